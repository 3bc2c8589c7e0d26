package webrtc

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// batchConn is the shared ICE UDP socket as pion's UDP mux sees it. It lets
// a WHEP viewer's forwarder gather the packets of one unit that pion writes
// to the viewer's address (SRTP, one WriteTo per packet) and send them in
// as few system calls as the platform allows: on Linux, one sendmsg with
// UDP GSO per run of equal-sized packets instead of one sendto per packet,
// which was most of a viewer's CPU cost.
//
// Everything but writing passes through to the embedded socket.
type batchConn struct {
	*net.UDPConn

	mu     sync.Mutex
	open   map[netip.AddrPort]*batch
	corked atomic.Int32 // len(open), read without the lock on every write
	pool   sync.Pool
	noGSO  atomic.Bool // the kernel refused a GSO send: packet by packet from then on
	// gsoRefused, when set, tells about the first refusal (a log line).
	gsoRefused func(error)
	// testRefuseGSO makes the next GSO sends fail as an old kernel's would.
	testRefuseGSO atomic.Bool
}

func newBatchConn(c *net.UDPConn, gsoRefused func(error)) *batchConn {
	return &batchConn{UDPConn: c, open: map[netip.AddrPort]*batch{}, gsoRefused: gsoRefused}
}

// batch is the packets written to one address while it is corked, kept
// back to back in buf.
type batch struct {
	c     *batchConn
	to    netip.AddrPort
	buf   []byte
	sizes []int
	oob   []byte // the GSO control message (Linux)
}

func batchKey(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// cork starts holding back what is written to to, until flush. It returns
// nil when batching is not available on this platform, or when a batch for
// to is already open: the caller then simply writes, and its packets join
// that batch or leave at once.
func (c *batchConn) cork(to netip.AddrPort) *batch {
	if !batchSupported || !to.Addr().Unmap().Is4() {
		return nil
	}
	to = batchKey(to)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[to] != nil {
		return nil
	}
	b, _ := c.pool.Get().(*batch)
	if b == nil {
		b = &batch{c: c}
	}
	b.to = to
	c.open[to] = b
	c.corked.Add(1)
	return b
}

// flush stops holding back and sends what the batch holds, in order. The
// batch must not be used afterwards.
func (b *batch) flush() error {
	c := b.c
	// From here writes to b.to leave at once and may overtake the batch's
	// tail by microseconds. Only pion's own goroutines can write then (the
	// forwarder writes nothing until flush returns): RTCP reports and
	// retransmissions, which do not depend on that order.
	c.mu.Lock()
	delete(c.open, b.to)
	c.corked.Add(-1)
	c.mu.Unlock()
	var err error
	if len(b.sizes) > 0 {
		err = c.sendBatch(b)
	}
	b.buf, b.sizes = b.buf[:0], b.sizes[:0]
	c.pool.Put(b)
	return err
}

// hold copies p into the open batch for to, if there is one. Callers
// (pion's SRTP and the mux) reuse their buffers, hence the copy.
func (c *batchConn) hold(p []byte, to netip.AddrPort) bool {
	to = batchKey(to)
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.open[to]
	if b == nil {
		return false
	}
	b.buf = append(b.buf, p...)
	b.sizes = append(b.sizes, len(p))
	return true
}

// WriteToAddrPort is what pion's UDP mux calls (ice.AddrPortReaderWriter,
// its allocation-free path).
func (c *batchConn) WriteToAddrPort(p []byte, to netip.AddrPort) (int, error) {
	if c.corked.Load() > 0 && c.hold(p, to) {
		return len(p), nil
	}
	return c.UDPConn.WriteToUDPAddrPort(p, to)
}

// ReadFromAddrPort completes ice.AddrPortReaderWriter; pion only takes the
// allocation-free path when both are there.
func (c *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	return c.UDPConn.ReadFromUDPAddrPort(p)
}

// WriteTo is net.PacketConn's write, for any caller that does not use the
// AddrPort path.
func (c *batchConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if ua, ok := addr.(*net.UDPAddr); ok {
		return c.WriteToAddrPort(p, ua.AddrPort())
	}
	return c.UDPConn.WriteTo(p, addr)
}

// sendEach is the portable way: one datagram per system call.
func (c *batchConn) sendEach(buf []byte, sizes []int, to netip.AddrPort) error {
	var first error
	for _, n := range sizes {
		if _, err := c.UDPConn.WriteToUDPAddrPort(buf[:n], to); err != nil && first == nil {
			first = err
		}
		buf = buf[n:]
	}
	return first
}

// GSO limits: the kernel takes at most 64 segments per send
// (UDP_MAX_SEGMENTS) and a UDP datagram, all segments together, must fit
// the 16-bit IP length with headers.
const (
	gsoMaxSegments = 64
	gsoMaxBytes    = 65000
)

// nextRun tells how many of the packets, from the first, one GSO send can
// carry: packets of the first one's size, and possibly one shorter packet
// to end the run, since the kernel cuts a GSO datagram into segments of
// one size of which only the last may be shorter (udp_send_skb,
// net/ipv4/udp.c).
func nextRun(sizes []int) int {
	seg := sizes[0]
	if seg == 0 {
		return 1
	}
	n, total := 1, seg
	for n < len(sizes) && n < gsoMaxSegments {
		s := sizes[n]
		if s > seg || s == 0 || total+s > gsoMaxBytes {
			break
		}
		n++
		total += s
		if s < seg {
			break
		}
	}
	return n
}
