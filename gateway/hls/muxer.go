package hls

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gohlslib/v2"

	"github.com/skyrelay/skyrelay/gateway"
)

// errCodecChanged ends a muxer whose video parameter sets changed: its init
// segment no longer describes the stream, so the next request makes a new
// one.
var errCodecChanged = errors.New("video parameters changed")

// muxer is one path's LL-HLS muxer, fed by one stream reader and read by
// any number of HTTP clients.
type muxer struct {
	srv  *Server
	path string

	// ready is closed once the muxer is running (err is nil) or failed to
	// start (err says why).
	ready chan struct{}
	err   error

	stream *gateway.Stream
	hls    *gohlslib.Muxer
	reader *gateway.Reader
	tracks map[*gateway.Track]*track
	gaps   *gapCloser      // used by write only
	held   []gateway.Frame // audio waiting for the video to close a gap

	// writeMu orders writes and Close: gohlslib serves HTTP concurrently
	// with writes, but a write must not race the muxer's Close.
	writeMu sync.Mutex
	ended   atomic.Bool

	active  atomic.Int32 // requests in flight, blocking playlist reloads included
	lastReq atomic.Int64 // unix nanoseconds of the last request's end

	closeOnce sync.Once
	closing   chan struct{}
	reason    string

	errLog rateLimiter
}

func newMuxer(s *Server, path string) *muxer {
	m := &muxer{srv: s, path: path, ready: make(chan struct{}), closing: make(chan struct{})}
	m.lastReq.Store(time.Now().UnixNano())
	return m
}

// run starts the muxer, then waits for a reason to end it: no request for
// CloseAfter, the stream's end, a codec change, or Close.
func (m *muxer) run() {
	defer m.srv.wg.Done()
	if err := m.start(); err != nil {
		m.err = err
		m.srv.remove(m)
		close(m.ready)
		return
	}
	close(m.ready)

	tick := time.NewTicker(idleCheckInterval(m.srv.CloseAfter))
	defer tick.Stop()
	reason := ""
	for reason == "" {
		select {
		case <-m.closing:
			reason = m.reason
		case <-m.reader.Done():
			switch err := m.reader.Err(); {
			case errors.Is(err, gateway.ErrStreamGone):
				reason = "stream ended"
			case err != nil:
				reason = err.Error()
			default:
				reason = "reader closed"
			}
		case <-tick.C:
			idle := time.Since(time.Unix(0, m.lastReq.Load()))
			if m.active.Load() == 0 && idle >= m.srv.CloseAfter {
				reason = "idle"
			}
		}
	}
	m.srv.remove(m)
	m.reader.Close()
	m.writeMu.Lock()
	m.ended.Store(true)
	m.hls.Close()
	m.writeMu.Unlock()
	m.srv.Log.Info("hls muxer closed", "path", m.path, "reason", reason)
	if m.srv.onClose != nil {
		m.srv.onClose(m.path, reason)
	}
}

// idleCheckInterval checks a few times per CloseAfter, within sane bounds.
func idleCheckInterval(closeAfter time.Duration) time.Duration {
	return min(max(closeAfter/4, 10*time.Millisecond), 5*time.Second)
}

// start waits for the stream (starting a DJI path on demand), builds the
// gohlslib muxer from its tracks and attaches the reader that feeds it.
func (m *muxer) start() error {
	ctx, cancel := context.WithTimeout(m.srv.ctx, startTimeout)
	defer cancel()
	st, err := m.srv.Hub.Read(ctx, m.path)
	if err != nil {
		return err
	}
	tracks, skipped, err := hlsTracks(st.Tracks())
	if len(skipped) > 0 {
		m.srv.Log.Info("hls leaves tracks out", "path", m.path, "tracks", strings.Join(skipped, "; "))
	}
	if err != nil {
		return err
	}
	m.stream, m.tracks, m.gaps = st, tracks, newGapCloser(m.srv.PartDuration)
	m.hls = &gohlslib.Muxer{
		Tracks:             ordered(st.Tracks(), tracks),
		Variant:            gohlslib.MuxerVariantLowLatency,
		SegmentCount:       m.srv.SegmentCount,
		SegmentMinDuration: m.srv.SegmentDuration,
		PartMinDuration:    m.srv.PartDuration,
		OnEncodeError:      m.encodeError,
	}
	if err := m.hls.Start(); err != nil {
		return fmt.Errorf("hls muxer: %w", err)
	}
	// SkipBytes stays false: this reader writes nothing itself, and the
	// bytes it reports are exactly those served over HTTP (see serve).
	m.reader = &gateway.Reader{Protocol: "hls", RemoteAddr: "hls-muxer", Handle: m.write, SkipRTP: true}
	if err := st.AddReader(m.reader); err != nil {
		m.hls.Close()
		return err
	}
	m.srv.Log.Info("hls muxer started", "path", m.path, "tracks", len(tracks))
	return nil
}

// write feeds one frame to the muxer, in the reader's goroutine. Backlog
// frames are written too: they start at the GOP's keyframe, which is what
// the muxer needs to open its first segment at once.
func (m *muxer) write(f gateway.Frame) error {
	tr := m.tracks[f.Track]
	if tr == nil {
		return nil
	}
	if paramsChanged(tr, f.Unit) {
		return errCodecChanged
	}
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	if m.ended.Load() {
		return nil
	}
	m.place(f, tr, true)
	return nil
}

// maxHeld bounds the audio held while a gap waits for the video: about a
// second of AAC. A stream whose video stays away longer has its gap
// closed by the audio.
const maxHeld = 48

// place writes one frame where the gap closer puts it (see gapCloser), or
// holds it for the video. writeMu is held.
func (m *muxer) place(f gateway.Frame, tr *track, mayHold bool) {
	shift, closed, hold := m.gaps.place(duration(f.Unit.PTS, tr.clock), tr.video, mayHold && len(m.held) < maxHeld)
	if hold {
		m.held = append(m.held, f)
		return
	}
	if closed {
		m.srv.Log.Debug("hls closed a gap in the stream's timeline", "path", m.path, "shift", shift)
	}
	pts := f.Unit.PTS - ticks(shift, tr.clock)
	// Audio held through a gap may now fall before audio already written:
	// such a unit, at most a frame or two at the publisher's reconnect,
	// is dropped rather than sent back in time.
	if tr.video || !tr.wrote || pts > tr.last {
		tr.last, tr.wrote = pts, true
		if err := tr.write(m.hls, f.Unit.Arrival, pts, f.Unit); err != nil {
			m.encodeError(err)
		}
	}
	if closed && len(m.held) > 0 {
		held := m.held
		m.held = nil
		for _, h := range held {
			m.place(h, m.tracks[h.Track], false)
		}
	}
}

// encodeError logs muxer errors at most once per interval: a broken stream
// can produce one per frame.
func (m *muxer) encodeError(err error) {
	if n, ok := m.errLog.allow(time.Now()); ok {
		m.srv.Log.Warn("hls muxer error", "path", m.path, "err", err, "suppressed", n)
	}
}

// close asks run to end the muxer.
func (m *muxer) close(reason string) {
	m.closeOnce.Do(func() {
		m.reason = reason
		close(m.closing)
	})
}

// serve hands one request to gohlslib under the file name it knows.
func (m *muxer) serve(w http.ResponseWriter, r *http.Request, file string) {
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = "/"+file, ""
	resp := &response{w: w, muxerEnd: m.ended.Load}
	m.hls.Handle(resp, r2)
	resp.finish()
	if resp.n > 0 {
		m.reader.AddBytes(resp.n)
	}
}

// acquire marks a request in flight; release ends it.
func (m *muxer) acquire() { m.active.Add(1) }

func (m *muxer) release() {
	m.lastReq.Store(time.Now().UnixNano())
	m.active.Add(-1)
}

// rateLimiter lets one event through per interval and counts the rest.
type rateLimiter struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

const errLogInterval = 5 * time.Second

func (l *rateLimiter) allow(now time.Time) (suppressed int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < errLogInterval {
		l.suppressed++
		return 0, false
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return n, true
}
