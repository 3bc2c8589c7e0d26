package webrtc

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/skyrelay/skyrelay/gateway"
)

// errBFrames ends a viewer whose stream turned out to reorder frames after
// the session started (the check at POST time only sees what the core had
// detected by then).
var errBFrames = errors.New("the stream has B-frames, which WebRTC cannot carry; use LL-HLS")

// outTrack is one track of one peer: the stream track it forwards, pion's
// local track, and the peer's own sequence numbers.
type outTrack struct {
	src   *gateway.Track
	local *pion.TrackLocalStaticRTP
	seq   uint16
}

// write sends the shared packets of one unit with timestamps moved by
// delta. Each packet is copied (a header copy; the payload is shared and
// never written) before its sequence number and timestamp change, and
// pion's WriteRTP copies it again before setting SSRC and payload type
// (track_local_static.go in v4.2.18), so the unit's packets stay untouched
// for every other reader.
//
// Sequence numbers are the peer's own and continuous over what it actually
// sent: frames the core dropped for a slow reader, or lost across a
// publisher reconnect, never show up as a gap the browser would NACK in
// vain; the core resumes such a reader at a keyframe.
func (o *outTrack) write(pkts []*rtp.Packet, delta uint32) (n int, err error) {
	for _, p := range pkts {
		c := *p
		c.Timestamp += delta
		c.SequenceNumber = o.seq
		o.seq++
		if e := o.local.WriteRTP(&c); e != nil && err == nil {
			err = e
		}
		n += c.Header.MarshalSize() + len(c.Payload)
	}
	return n, err
}

// forwarder is a WHEP viewer's gateway.Reader.Handle: it runs in the
// reader's own goroutine, so pacing the catch-up here delays nobody else.
type forwarder struct {
	stream       *gateway.Stream
	video, audio *outTrack
	timing       catchUp
	reader       *gateway.Reader
	stop         <-chan struct{}
	// out and to let the packets of a unit leave in one system call
	// (batchconn.go): the shared socket and the viewer's UDP address.
	out *batchConn
	to  *atomic.Pointer[netip.AddrPort]

	bytes      atomic.Uint64
	writeErrs  atomic.Uint64
	batched    atomic.Uint64 // units that left corked
	firstSent  atomic.Int64  // unix nanoseconds of the first video packet
	liveAt     atomic.Int64  // when catching up ended
	backlogged atomic.Uint64
}

func newOutTrack(src *gateway.Track, local *pion.TrackLocalStaticRTP) *outTrack {
	return &outTrack{src: src, local: local, seq: uint16(rand.Uint32())}
}

// plays tells the core which tracks to queue for this viewer: not the
// stream's AAC audio, which WebRTC cannot carry.
func (f *forwarder) plays(t *gateway.Track) bool {
	return (f.video != nil && t == f.video.src) || (f.audio != nil && t == f.audio.src)
}

func (f *forwarder) handle(fr gateway.Frame) error {
	u := fr.Unit
	if len(u.RTP) == 0 {
		return nil
	}
	switch {
	case f.video != nil && fr.Track == f.video.src:
		if f.stream.HasBFrames() {
			return errBFrames
		}
		now := time.Now()
		sendAt, ts := f.timing.video(u.RTP[0].Timestamp, fr.Backlog, u.Arrival, now)
		if wait := sendAt.Sub(now); wait > 0 && !f.sleep(wait) {
			return nil
		}
		if fr.Backlog {
			f.backlogged.Add(1)
		}
		if f.timing.live && f.liveAt.Load() == 0 {
			f.liveAt.Store(time.Now().UnixNano())
		}
		f.send(f.video, u, ts-u.RTP[0].Timestamp)
		if f.firstSent.Load() == 0 {
			f.firstSent.Store(now.UnixNano())
		}
	case f.audio != nil && fr.Track == f.audio.src:
		// Audio joins at the live edge: backlog audio played fast would be
		// noise, and the browser syncs the two through the sender reports.
		if f.video != nil && !f.timing.live {
			return nil
		}
		f.send(f.audio, u, 0)
	}
	return nil
}

func (f *forwarder) send(o *outTrack, u *gateway.Unit, delta uint32) {
	b := f.cork()
	n, err := o.write(u.RTP, delta)
	if b != nil {
		if e := b.flush(); e != nil && err == nil {
			err = e
		}
		f.batched.Add(1)
	}
	if err != nil {
		// A closed or failing connection is noticed by the session through
		// the connection state; here it only counts.
		f.writeErrs.Add(1)
	}
	f.bytes.Add(uint64(n))
	f.reader.AddBytes(n)
}

// cork holds back what pion writes to the viewer until the unit is
// written. nil, and the packets leave one by one, when the viewer is on
// ICE-TCP, its pair is not known yet, or the platform cannot batch.
func (f *forwarder) cork() *batch {
	if f.out == nil || f.to == nil {
		return nil
	}
	to := f.to.Load()
	if to == nil {
		return nil
	}
	return f.out.cork(*to)
}

// sleep waits for the catch-up pacing; false when the viewer went away.
func (f *forwarder) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-f.stop:
		return false
	case <-f.reader.Done():
		return false
	}
}
