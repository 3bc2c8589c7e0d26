package gateway

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrStreamGone ends readers whose stream closed for good.
var ErrStreamGone = errors.New("stream ended")

// Bounds of the GOP kept for readers that join: DJI GOPs are 2–3 s, so these
// only matter for a publisher that never sends a keyframe.
const (
	maxGOPFrames = 4096
	maxGOPBytes  = 32 << 20
)

// Sink receives every unit, with its RTP packets, in the publisher's
// goroutine and must not block. RTSP output uses it: gortsplib queues per
// session on its own.
type Sink interface {
	WriteUnit(t *Track, u *Unit)
}

// SourceInfo describes who publishes a stream.
type SourceInfo struct {
	Protocol   string `json:"protocol"`
	RemoteAddr string `json:"remote_addr"`
}

// Stream is the live state of one path. It outlives a publisher for the
// reconnect grace period so that readers stay attached across a drop.
type Stream struct {
	hub    *Hub
	path   string
	tracks []*Track
	procs  []*processor
	video  *Track

	mu       sync.Mutex
	pub      *Publisher
	source   SourceInfo
	readers  []*Reader
	sinks    []Sink
	rtpUsers int // sinks and readers without SkipRTP
	gop      []Frame
	gopBytes int
	gopFull  bool
	closed   bool
	grace    *time.Timer

	// Stream time of the newest unit and when it arrived, to continue
	// timestamps when a publisher comes back.
	lastTime time.Duration
	lastWall time.Time

	ready   chan struct{}
	isReady atomic.Bool

	bytesReceived atomic.Uint64
	bytesSent     atomic.Uint64
	reconnects    atomic.Uint64
}

// Path is the stream's path.
func (s *Stream) Path() string { return s.path }

// Tracks are the stream's tracks; their formats carry current parameters.
func (s *Stream) Tracks() []*Track { return s.tracks }

// Ready is closed once a reader can start playing: the first decodable
// keyframe arrived (or the first unit, for audio only).
func (s *Stream) Ready() <-chan struct{} { return s.ready }

// HasBFrames tells whether the video reorders frames, which WebRTC cannot
// carry.
func (s *Stream) HasBFrames() bool {
	for _, p := range s.procs {
		if p.bframes.Load() {
			return true
		}
	}
	return false
}

// Source describes the current (or last) publisher.
func (s *Stream) Source() (SourceInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.source, s.pub != nil
}

// AddReader attaches r, replays the current GOP to it and starts its
// goroutine.
func (s *Stream) AddReader(r *Reader) error {
	r.init(s)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrStreamGone
	}
	if !r.SkipRTP {
		s.rtpUsers++
	}
	if len(s.gop) > 0 && !s.gopFull && len(s.gop) <= cap(r.queue) {
		for _, f := range s.gop {
			if r.skip[f.Track.Index] {
				continue
			}
			f.Backlog = true
			r.queue <- f
		}
	} else if r.hasVideo {
		r.waitKey = true
	}
	s.readers = append(s.readers, r)
	n := len(s.readers)
	s.mu.Unlock()
	s.hub.metrics.readerAdded(r.Protocol)
	go r.run()
	s.hub.emit(Event{Kind: EventReaders, Path: s.path, Readers: n})
	return nil
}

func (s *Stream) removeReader(r *Reader) {
	s.mu.Lock()
	found := false
	for i, x := range s.readers {
		if x == r {
			s.readers = append(s.readers[:i:i], s.readers[i+1:]...)
			found = true
			if !r.SkipRTP {
				s.rtpUsers--
			}
			break
		}
	}
	n := len(s.readers)
	s.mu.Unlock()
	if found {
		s.hub.metrics.readerRemoved(r.Protocol)
		s.hub.emit(Event{Kind: EventReaders, Path: s.path, Readers: n})
	}
}

// Readers returns a snapshot of the attached readers.
func (s *Stream) Readers() []*Reader {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Reader(nil), s.readers...)
}

// AddSink attaches a synchronous sink; RemoveSink detaches it.
func (s *Stream) AddSink(k Sink) {
	s.mu.Lock()
	s.sinks = append(s.sinks, k)
	s.rtpUsers++
	s.mu.Unlock()
}

// RemoveSink detaches a sink added with AddSink.
func (s *Stream) RemoveSink(k Sink) {
	s.mu.Lock()
	for i, x := range s.sinks {
		if x == k {
			s.sinks = append(s.sinks[:i:i], s.sinks[i+1:]...)
			s.rtpUsers--
			break
		}
	}
	s.mu.Unlock()
}

// BytesReceived and BytesSent count payload bytes in and out.
func (s *Stream) BytesReceived() uint64 { return s.bytesReceived.Load() }

// BytesSent counts bytes readers wrote to their peers.
func (s *Stream) BytesSent() uint64 { return s.bytesSent.Load() }

// deliver hands a unit to the GOP, the sinks and every reader. s.mu is held.
func (s *Stream) deliver(t *Track, u *Unit) {
	f := Frame{Track: t, Unit: u}
	if s.video != nil {
		// The GOP keeps its own copy of the unit, without RTP packets: a
		// reader that joins packetises its replay itself (Reader.run), so
		// the GOP, 2-3 s on DJI streams, does not hold every packet too.
		g := f
		if t == s.video && u.Key || len(s.gop) > 0 && !s.gopFull {
			c := *u
			c.RTP, c.packed = nil, false
			g.Unit = &c
		}
		switch {
		case t == s.video && u.Key:
			clear(s.gop)
			s.gop, s.gopBytes, s.gopFull = s.gop[:0], 0, false
			s.gop = append(s.gop, g)
		case len(s.gop) > 0 && !s.gopFull:
			s.gop = append(s.gop, g)
		}
		for _, p := range u.Payload {
			s.gopBytes += len(p)
		}
		if len(s.gop) > maxGOPFrames || s.gopBytes > maxGOPBytes {
			s.gopFull = true
		}
	}
	if !s.isReady.Load() && (s.video == nil || (t == s.video && u.Key)) {
		s.isReady.Store(true)
		close(s.ready)
		s.hub.emitAsync(Event{Kind: EventReady, Path: s.path})
	}
	if s.rtpUsers > 0 {
		s.procs[t.Index].packetise(u)
	}
	for _, k := range s.sinks {
		k.WriteUnit(t, u)
	}
	for _, r := range s.readers {
		r.offer(f)
	}
}

// close ends the stream and every reader. s.mu must not be held.
func (s *Stream) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	if s.grace != nil {
		s.grace.Stop()
	}
	readers := s.readers
	s.readers = nil
	s.gop = nil
	s.mu.Unlock()
	for _, r := range readers {
		s.hub.metrics.readerRemoved(r.Protocol)
		r.stream.Store(nil)
		r.end(ErrStreamGone)
	}
}
