package gateway

import (
	"time"

	"github.com/pion/rtp"
)

// Publisher is an ingest's handle on the stream it feeds. Writes to
// different tracks may come from different goroutines.
type Publisher struct {
	stream *Stream
	info   SourceInfo

	// tl maps this publisher's timestamps onto the stream's, so that a
	// publisher that reconnects continues where the last one stopped and
	// one whose clock jumps (an encoder restart) does not freeze it.
	tl     *timeline
	jumped []bool // per track: a rebase happened since its last unit
	closed bool
}

// Tracks are the stream's tracks, in the order the publisher declared them.
func (p *Publisher) Tracks() []*Track { return p.stream.tracks }

// Stream is the stream this publisher feeds.
func (p *Publisher) Stream() *Stream { return p.stream }

// AddBytes counts bytes received from the publisher's peer.
func (p *Publisher) AddBytes(n int) {
	p.stream.bytesReceived.Add(uint64(n))
	p.stream.hub.metrics.bytesIn.Add(uint64(n))
}

// WriteUnit feeds one access unit (video NAL units, AAC access units, an Opus
// packet, G.711 samples). pts is in the track's clock rate, in the
// publisher's own time base.
func (p *Publisher) WriteUnit(track int, pts int64, payload [][]byte) {
	p.write(track, pts, 0, false, payload, nil)
}

// WriteUnitDTS is WriteUnit for sources that know the decode timestamp,
// which reveals B-frames.
func (p *Publisher) WriteUnitDTS(track int, pts, dts int64, payload [][]byte) {
	p.write(track, pts, dts, true, payload, nil)
}

// WriteRTP feeds one RTP packet of a source that sends RTP (RTSP, WHIP).
// pts is the packet's presentation time in the track's clock rate.
func (p *Publisher) WriteRTP(track int, pkt *rtp.Packet, pts int64) {
	p.write(track, pts, 0, false, nil, pkt)
}

func (p *Publisher) write(track int, pts, dts int64, hasDTS bool, payload [][]byte, pkt *rtp.Packet) {
	s := p.stream
	if track < 0 || track >= len(s.tracks) {
		return
	}
	arrival := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.closed || s.pub != p {
		return
	}
	t := s.tracks[track]
	if p.tl == nil {
		p.tl = newTimeline(s.tracks, p.startOffset(t, pts, arrival))
		p.jumped = make([]bool, len(s.tracks))
	}
	off, jump := p.tl.shift(track, pts, arrival)
	if jump != 0 {
		p.jumped[track] = true
		s.hub.metrics.process.Rebased.Add(1)
		s.hub.Log.Info("publisher's clock jumped: timeline rebased", "path", s.path, "track", track, "jump", jump)
	}
	pts += off
	dts += off
	proc := s.procs[track]
	var u *Unit
	var err error
	if pkt != nil {
		u, err = proc.processRTP(pkt, pts)
	} else {
		u, err = proc.process(pts, dts, hasDTS, payload)
	}
	if err != nil {
		if err != errSkip {
			proc.stats.Skipped.Add(1)
		}
		return
	}
	u.Arrival = arrival
	// Packets of an RTP access unit may come before the one that
	// completes it: the mark waits for the unit.
	u.Discontinuity, p.jumped[track] = p.jumped[track], false
	if d := time.Duration(u.PTS) * time.Second / time.Duration(t.ClockRate()); d > s.lastTime {
		s.lastTime = d
	}
	s.lastWall = arrival
	s.deliver(t, u)
}

// startOffset decides, on a publisher's first unit, how its timestamps map
// onto the stream: a fresh stream keeps them; a continued one resumes after
// the last unit, plus the time the gap really lasted. s.mu is held.
func (p *Publisher) startOffset(t *Track, pts int64, now time.Time) time.Duration {
	s := p.stream
	if s.lastWall.IsZero() {
		return 0
	}
	first := time.Duration(pts) * time.Second / time.Duration(t.ClockRate())
	gap := max(now.Sub(s.lastWall), 10*time.Millisecond)
	return s.lastTime + gap - first
}

// Close detaches the publisher. The stream waits for the hub's grace period
// for a publisher to come back before it ends.
func (p *Publisher) Close() {
	s := p.stream
	s.mu.Lock()
	if p.closed {
		s.mu.Unlock()
		return
	}
	p.closed = true
	current := s.pub == p
	if current {
		s.pub = nil
	}
	s.mu.Unlock()
	if current {
		s.hub.publisherGone(s)
	}
}
