package gateway

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultQueueSize is how many frames a reader may fall behind before it
// starts losing them: about 5 s of 30 fps video with audio.
const DefaultQueueSize = 512

// Reader is one consumer of a stream: a WHEP peer, an HLS muxer, an RTMP
// player. It runs Handle in its own goroutine, fed by a bounded queue, so
// that its speed concerns nobody else.
type Reader struct {
	Protocol   string
	RemoteAddr string
	// Handle receives every frame in order; an error ends the reader.
	Handle func(Frame) error
	// QueueSize bounds the frames waiting for Handle (DefaultQueueSize if 0).
	QueueSize int
	// SkipBytes leaves this reader out of bytes_sent: outputs that count
	// their own bytes (HLS serves many clients from one reader) set it.
	SkipBytes bool
	// SkipRTP declares that Handle never reads Unit.RTP. The core
	// packetises a stream's units only while it has a reader without it
	// (or a Sink), so a stream watched only over LL-HLS or RTMP, or not at
	// all, costs no RTP work.
	SkipRTP bool
	// Plays, when set, tells which of the stream's tracks Handle wants.
	// Frames of the others are never queued, so a track the reader does
	// not play (a WHEP viewer and the stream's AAC audio) costs it no
	// wake-up.
	Plays func(*Track) bool

	queue    chan Frame
	waitKey  bool   // after a drop: lose frames until the next keyframe
	hasVideo bool   // the reader plays the stream's video
	skip     []bool // by track index: not played
	// replay packetises the GOP replayed to this reader, by track index
	// (made when first needed); procs are the stream's, for their
	// timestamp base.
	replay  []*packetiser
	procs   []*processor
	dropped atomic.Uint64
	sent    atomic.Uint64

	// stream is nil once the reader left it; the stream's close clears it
	// while the reader's own goroutine may be counting bytes.
	stream   atomic.Pointer[Stream]
	latency  prometheus.Observer
	done     chan struct{}
	closeOne sync.Once
	err      error
}

// Dropped is how many frames this reader lost for being slow.
func (r *Reader) Dropped() uint64 { return r.dropped.Load() }

// Done is closed when the reader has ended: closed by its owner, failed in
// Handle, or its stream went away.
func (r *Reader) Done() <-chan struct{} { return r.done }

// Err tells why the reader ended, once Done is closed.
func (r *Reader) Err() error { return r.err }

// AddBytes counts bytes this reader wrote to its peer.
func (r *Reader) AddBytes(n int) {
	if s := r.stream.Load(); s != nil && !r.SkipBytes {
		s.bytesSent.Add(uint64(n))
		s.hub.metrics.bytesOut.Add(uint64(n))
	}
	r.sent.Add(uint64(n))
}

// Close detaches the reader from its stream and stops its goroutine.
func (r *Reader) Close() { r.end(nil) }

func (r *Reader) end(err error) {
	r.closeOne.Do(func() {
		r.err = err
		if s := r.stream.Load(); s != nil {
			s.removeReader(r)
		}
		close(r.done)
	})
}

func (r *Reader) init(s *Stream) {
	if r.QueueSize <= 0 {
		r.QueueSize = DefaultQueueSize
	}
	r.queue = make(chan Frame, r.QueueSize)
	r.skip = make([]bool, len(s.tracks))
	for i, t := range s.tracks {
		r.skip[i] = r.Plays != nil && !r.Plays(t)
	}
	r.hasVideo = s.video != nil && !r.skip[s.video.Index]
	r.procs = s.procs
	r.replay = make([]*packetiser, len(s.tracks))
	r.done = make(chan struct{})
	r.stream.Store(s)
	r.latency = s.hub.metrics.latency.WithLabelValues(r.Protocol)
}

// offer queues a frame without ever blocking. It runs in the publisher's
// goroutine. A full queue costs this reader the rest of the GOP: dropping
// single frames would only show the viewer broken pictures.
func (r *Reader) offer(f Frame) {
	if r.skip[f.Track.Index] {
		return
	}
	video := f.Track.Codec.IsVideo()
	if r.waitKey && video {
		if !f.Unit.Key {
			r.dropped.Add(1)
			return
		}
		r.waitKey = false
	}
	select {
	case r.queue <- f:
	default:
		r.dropped.Add(1)
		if s := r.stream.Load(); s != nil {
			s.hub.metrics.framesDropped.Add(1)
		}
		if r.hasVideo {
			r.waitKey = true
		}
	}
}

func (r *Reader) run() {
	for {
		select {
		case <-r.done:
			return
		case f := <-r.queue:
			if f.Backlog && !r.SkipRTP {
				f.Unit = r.packetiseReplay(f)
			}
			if err := r.Handle(f); err != nil {
				r.end(err)
				return
			}
			if !f.Backlog && r.latency != nil {
				// Ingest arrival to handed to the peer: what the gateway adds.
				r.latency.Observe(time.Since(f.Unit.Arrival).Seconds())
			}
		}
	}
}

// packetiseReplay returns a copy of a replayed GOP unit with RTP packets
// made by this reader's own packetiser. Sequence numbers are the reader's
// own (outputs that replay a GOP number packets themselves anyway); the
// timestamps line up with the live packets that follow.
func (r *Reader) packetiseReplay(f Frame) *Unit {
	i := f.Track.Index
	if r.replay[i] == nil {
		pk, err := newPacketiser(f.Track, r.procs[i].rtp.base)
		if err != nil {
			return f.Unit
		}
		r.replay[i] = pk
	}
	c := *f.Unit
	c.RTP, _ = r.replay[i].packets(&c)
	return &c
}
