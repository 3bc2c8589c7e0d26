package manscdp

import (
	"bytes"
	"encoding/xml"
	"strconv"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// header is the XML declaration Skyrelay writes: GB2312, as GB/T
// 28181-2016 §6.10 recommends and devices expect.
const header = "<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n"

// Encode writes m as a GB2312 MANSCDP body. Text outside GBK is replaced
// (the encoder's replacement), which keeps the body valid.
func Encode(m *Message) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	out, err := simplifiedchinese.GBK.NewEncoder().Bytes(b.Bytes())
	if err != nil {
		// Characters GBK cannot hold: fall back to GB18030, which holds all.
		return simplifiedchinese.GB18030.NewEncoder().Bytes(b.Bytes())
	}
	return out, nil
}

func sn(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

// Query is a Query for cmdType (Catalog, DeviceInfo, DeviceStatus...) to
// deviceID (GB/T 28181-2016 §A.2.4).
func Query(cmdType string, seq uint32, deviceID string) []byte {
	b, _ := Encode(&Message{XMLName: xml.Name{Local: "Query"}, CmdType: cmdType, SN: sn(seq), DeviceID: deviceID})
	return b
}

// Keepalive is a device's Keepalive Notify (GB/T 28181-2016 §A.2.5).
func Keepalive(seq uint32, deviceID string) []byte {
	b, _ := Encode(&Message{XMLName: xml.Name{Local: "Notify"}, CmdType: "Keepalive", SN: sn(seq), DeviceID: deviceID, Status: "OK"})
	return b
}

// CatalogResponses are the parts of a device's Catalog answer to the
// query with seq, perPart items in each (GB/T 28181-2016 §A.2.6.4). An
// empty catalog is one part with SumNum 0.
func CatalogResponses(seq uint32, deviceID string, items []Item, perPart int) [][]byte {
	if perPart <= 0 {
		perPart = 1
	}
	var out [][]byte
	for i := 0; i == 0 || i < len(items); i += perPart {
		part := items[i:min(i+perPart, len(items))]
		b, _ := Encode(&Message{XMLName: xml.Name{Local: "Response"}, CmdType: "Catalog", SN: sn(seq), DeviceID: deviceID,
			SumNum: strconv.Itoa(len(items)), DeviceList: &DeviceList{Num: strconv.Itoa(len(part)), Items: part}})
		out = append(out, b)
	}
	return out
}

// DeviceInfoResponse is a device's answer to a DeviceInfo query (GB/T
// 28181-2016 §A.2.6.5).
func DeviceInfoResponse(seq uint32, deviceID, name, manufacturer, model, firmware string, channels int) []byte {
	b, _ := Encode(&Message{XMLName: xml.Name{Local: "Response"}, CmdType: "DeviceInfo", SN: sn(seq), DeviceID: deviceID, Result: "OK",
		DeviceName: name, Manufacturer: manufacturer, Model: model, Firmware: firmware, Channel: strconv.Itoa(channels)})
	return b
}
