package ps

import (
	"errors"
	"time"
)

// Reorder defaults: GB/T 28181 devices send a frame as a burst of packets,
// so a small window absorbs the reordering a network adds without adding
// much latency.
const (
	DefaultReorderWindow = 32
	DefaultMaxDelay      = 100 * time.Millisecond
	// seqRestart is the jump in sequence numbers taken as a new sender
	// (a device restart) rather than as loss.
	seqRestart = 1000
	maxPayload = 0xFFFF
)

// RTPStats counts what the RTP receiver saw.
type RTPStats struct {
	Packets   uint64 // RTP packets accepted
	Lost      uint64 // sequence numbers never received
	Late      uint64 // packets that came after their turn, or twice
	Reordered uint64 // packets that came early and waited in the window
	Restarts  uint64 // sequence jumps taken as a new sender
	Invalid   uint64 // not RTP version 2, or inconsistent lengths
	RTCP      uint64 // RTCP packets on the same port or connection, ignored
	Foreign   uint64 // packets of another SSRC than the expected one
}

// ErrNotRTP is returned for a packet that is not RTP version 2 (RFC 3550
// §5.1) or whose header lengths do not fit.
var ErrNotRTP = errors.New("ps: not an RTP packet")

type slot struct {
	present bool
	marker  bool
	at      time.Time
	data    []byte
}

// RTPReceiver takes PS over RTP (GB/T 28181: PT 96, "PS/90000"), puts the
// packets back in sequence order, and feeds their payloads to a Demuxer.
// The RTP timestamp is not used: the PES timestamps inside the PS are the
// truth (devices are known to send RTP timestamps that do not advance).
//
// A packet that comes early waits in a window of Window packets, at most
// MaxDelay. A gap that is given up on counts as loss and resets the
// demuxer, which resynchronises at the next pack header, so a frame cut by
// loss is dropped rather than handed out broken. The marker bit flushes the
// demuxer's current video unit. Not safe for concurrent use.
type RTPReceiver struct {
	Demuxer *Demuxer
	// SSRC, when not zero, is the only SSRC accepted (the y= line of the
	// SDP); other packets are counted and dropped.
	SSRC uint32
	// Window (packets, default 32, at most 1024) and MaxDelay (default
	// 100 ms) bound the wait for a missing packet.
	Window   int
	MaxDelay time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	stats    RTPStats
	started  bool
	expected uint16
	slots    []slot
	buffered int
	gap      bool // loss happened: reset the demuxer before the next payload
	behind   int  // late packets in a row, to notice a sender restart
}

// Stats returns the counters so far.
func (r *RTPReceiver) Stats() RTPStats { return r.stats }

func (r *RTPReceiver) window() int {
	if r.Window > 0 {
		return min(r.Window, 1024)
	}
	return DefaultReorderWindow
}

// ringSize is the smallest power of two ≥ w, so that slots index by
// sequence number across the 16-bit wrap.
func ringSize(w int) int {
	n := 1
	for n < w {
		n <<= 1
	}
	return n
}

func (r *RTPReceiver) maxDelay() time.Duration {
	if r.MaxDelay > 0 {
		return r.MaxDelay
	}
	return DefaultMaxDelay
}

func (r *RTPReceiver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// RTPHeader is what the receiver reads of an RTP fixed header.
type RTPHeader struct {
	Marker      bool
	PayloadType uint8
	Seq         uint16
	Timestamp   uint32
	SSRC        uint32
}

// ParseRTP splits an RTP packet (RFC 3550 §5.1) into header and payload,
// skipping CSRCs, the header extension and padding. It never panics.
func ParseRTP(b []byte) (h RTPHeader, payload []byte, err error) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return h, nil, ErrNotRTP
	}
	h.Marker = b[1]&0x80 != 0
	h.PayloadType = b[1] & 0x7F
	h.Seq = uint16(b[2])<<8 | uint16(b[3])
	h.Timestamp = uint32(b[4])<<24 | uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7])
	h.SSRC = uint32(b[8])<<24 | uint32(b[9])<<16 | uint32(b[10])<<8 | uint32(b[11])
	off := 12 + 4*int(b[0]&0x0F)
	if b[0]&0x10 != 0 {
		if off+4 > len(b) {
			return h, nil, ErrNotRTP
		}
		off += 4 + 4*be16(b[off+2:off+4])
	}
	end := len(b)
	if b[0]&0x20 != 0 {
		end -= int(b[len(b)-1])
	}
	if off > end || end > len(b) || (b[0]&0x20 != 0 && end == len(b)) {
		return h, nil, ErrNotRTP
	}
	return h, b[off:end], nil
}

// isRTCP tells RTCP from RTP on a shared port (RFC 5761 §4): RTCP packet
// types 192..223 sit where an RTP marker bit and payload type 64..95 would.
func isRTCP(b []byte) bool {
	return len(b) >= 2 && b[1] >= 192 && b[1] <= 223
}

// WriteRTP takes one RTP packet. It returns ErrNotRTP for packets that are
// not RTP; RTCP and foreign-SSRC packets are counted and ignored. The
// receiver never keeps pkt.
func (r *RTPReceiver) WriteRTP(pkt []byte) error {
	if isRTCP(pkt) {
		r.stats.RTCP++
		return nil
	}
	h, payload, err := ParseRTP(pkt)
	if err != nil {
		r.stats.Invalid++
		return err
	}
	if r.SSRC != 0 && h.SSRC != r.SSRC {
		r.stats.Foreign++
		return nil
	}
	r.WritePayload(h.Seq, h.Marker, payload)
	return nil
}

// WritePayload takes the payload of an RTP packet already parsed, e.g. by
// pion/rtp. The receiver never keeps payload.
func (r *RTPReceiver) WritePayload(seq uint16, marker bool, payload []byte) {
	if len(payload) > maxPayload {
		r.stats.Invalid++
		return
	}
	w := r.window()
	if len(r.slots) < w {
		r.slots = make([]slot, ringSize(w))
		r.buffered = 0
	}
	if !r.started {
		r.started, r.expected = true, seq
	}
	diff := int(int16(seq - r.expected))
	switch {
	case diff < 0:
		r.behind++
		if -diff < seqRestart && r.behind <= w {
			r.stats.Late++
			return
		}
		r.restart(seq)
		diff = 0
	case diff >= seqRestart:
		r.restart(seq)
		diff = 0
	case diff >= w:
		// The window cannot hold it: give up on the oldest.
		r.skipTo(seq - uint16(w) + 1)
		diff = int(int16(seq - r.expected))
	}
	r.behind = 0
	r.stats.Packets++
	if diff == 0 && r.buffered == 0 {
		r.deliver(payload, marker)
		r.expected++
		return
	}
	s := &r.slots[int(seq)&(len(r.slots)-1)]
	if s.present {
		r.stats.Late++ // duplicate
		return
	}
	if diff > 0 {
		r.stats.Reordered++
	}
	s.present, s.marker, s.at = true, marker, r.now()
	s.data = append(s.data[:0], payload...)
	r.buffered++
	r.drain()
	r.expire()
}

// Flush hands out everything waiting in the window, counting the gaps as
// loss, and flushes the demuxer: for the end of a session.
func (r *RTPReceiver) Flush() {
	r.emptyWindow()
	if r.Demuxer != nil {
		r.Demuxer.Flush()
	}
}

// restart treats seq as the first packet of a new sender: what was waiting
// is handed out and the demuxer resynchronises.
func (r *RTPReceiver) restart(seq uint16) {
	r.stats.Restarts++
	r.emptyWindow()
	r.expected = seq
	r.behind = 0
	r.gap = true
}

// emptyWindow hands out every packet waiting, counting the gaps before
// them as loss.
func (r *RTPReceiver) emptyWindow() {
	for r.buffered > 0 {
		r.advance()
	}
}

// advance hands out the packet at the expected sequence number, or counts
// it lost when it has not come, and moves on to the next.
func (r *RTPReceiver) advance() {
	s := &r.slots[int(r.expected)&(len(r.slots)-1)]
	if s.present {
		r.deliver(s.data, s.marker)
		s.present = false
		r.buffered--
	} else {
		r.stats.Lost++
		r.gap = true
	}
	r.expected++
}

// drain hands out the packets that are now in order.
func (r *RTPReceiver) drain() {
	for r.buffered > 0 {
		s := &r.slots[int(r.expected)&(len(r.slots)-1)]
		if !s.present {
			return
		}
		r.deliver(s.data, s.marker)
		s.present = false
		r.buffered--
		r.expected++
	}
}

// skipTo gives up on every sequence number before target that has not
// come, handing out those that have.
func (r *RTPReceiver) skipTo(target uint16) {
	for r.expected != target && int(int16(target-r.expected)) > 0 {
		r.advance()
	}
	r.drain()
}

// expire gives up on a gap once the oldest packet waiting behind it has
// waited MaxDelay.
func (r *RTPReceiver) expire() {
	if r.buffered == 0 {
		return
	}
	w := r.window()
	now := r.now()
	for i := 1; i < w; i++ {
		seq := r.expected + uint16(i)
		s := &r.slots[int(seq)&(len(r.slots)-1)]
		if s.present {
			if now.Sub(s.at) >= r.maxDelay() {
				r.skipTo(seq)
			}
			return
		}
	}
}

func (r *RTPReceiver) deliver(payload []byte, marker bool) {
	if r.Demuxer == nil {
		return
	}
	if r.gap {
		r.gap = false
		r.Demuxer.Reset()
	}
	r.Demuxer.Write(payload)
	if marker {
		r.Demuxer.Flush()
	}
}
