package webrtc

import (
	"errors"
	"syscall"
	"unsafe"
)

const batchSupported = true

// UDP GSO (Linux 4.18+): a sendmsg carrying a UDP_SEGMENT control message
// with the segment size is cut by the kernel (or the NIC) into datagrams of
// that size, so a run of packets costs one system call and one trip down
// the stack. include/uapi/linux/udp.h; "Optimizing UDP for content
// delivery: GSO, pacing and zerocopy", Linux Plumbers 2018.
const (
	solUDP     = 17  // SOL_UDP, the same number as IPPROTO_UDP
	udpSegment = 103 // UDP_SEGMENT
)

// sendBatch sends the batch's packets in order: each run of equal-sized
// packets in one GSO send, a lone packet as a plain one.
func (c *batchConn) sendBatch(b *batch) error {
	buf, sizes := b.buf, b.sizes
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for len(sizes) > 0 {
		if c.noGSO.Load() {
			keep(c.sendEach(buf, sizes, b.to))
			break
		}
		n := nextRun(sizes)
		bytes := 0
		for _, s := range sizes[:n] {
			bytes += s
		}
		if n == 1 {
			_, err := c.UDPConn.WriteToUDPAddrPort(buf[:bytes], b.to)
			keep(err)
		} else if err := c.sendGSO(b, buf[:bytes], sizes[0]); err != nil {
			if !gsoRefusal(err) {
				keep(err)
			} else {
				// Nothing of this run left (a GSO send is all or
				// nothing): send it again, one by one, as from now on.
				if c.noGSO.CompareAndSwap(false, true) && c.gsoRefused != nil {
					c.gsoRefused(err)
				}
				keep(c.sendEach(buf[:bytes], sizes[:n], b.to))
			}
		}
		buf, sizes = buf[bytes:], sizes[n:]
	}
	return first
}

// gsoRefusal tells the errors of a kernel or device that cannot do UDP
// GSO, as opposed to a failed send: EIO when the device has no checksum
// offload, EINVAL or ENOPROTOOPT from kernels that do not know the option
// (or a segment over the path MTU), EOPNOTSUPP.
func gsoRefusal(err error) bool {
	return errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOPROTOOPT)
}

// sendGSO sends p as datagrams of seg bytes (the last may be shorter) in
// one sendmsg.
func (c *batchConn) sendGSO(b *batch, p []byte, seg int) error {
	if c.testRefuseGSO.Load() {
		return syscall.EIO
	}
	rc, err := c.UDPConn.SyscallConn()
	if err != nil {
		return err
	}
	if b.oob == nil {
		// Allocated, not an array on the stack, so that it is aligned for
		// the header.
		b.oob = make([]byte, syscall.CmsgSpace(2))
	}
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&b.oob[0]))
	h.Level, h.Type = solUDP, udpSegment
	h.SetLen(syscall.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&b.oob[syscall.CmsgLen(0)])) = uint16(seg)
	sa := &syscall.SockaddrInet4{Port: int(b.to.Port()), Addr: b.to.Addr().Unmap().As4()}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		_, serr = syscall.SendmsgN(int(fd), p, b.oob, sa, 0)
		// EAGAIN: the send buffer is full; the poller waits until it is
		// writable and calls again.
		return serr != syscall.EAGAIN
	})
	if err != nil {
		return err
	}
	return serr
}
