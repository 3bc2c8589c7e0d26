// Package manscdp reads and writes the MANSCDP XML bodies of GB/T 28181
// SIP MESSAGEs (GB/T 28181-2016 Annex A): Keepalive notifies, Catalog and
// DeviceInfo queries and their answers, and whatever else a device sends,
// which is read far enough to know its root element, CmdType, SN and
// DeviceID.
//
// Devices declare encoding="GB2312" (or GBK, GB18030, or falsely UTF-8):
// the reader decodes any of them and bodies that are not valid UTF-8 as
// GB18030, which is a superset of GBK and GB2312 (GB/T 28181-2016 §6.10).
// The writer emits GB2312, encoding text through GBK, the way devices
// expect it.
package manscdp
