// Package hls serves Skyrelay's streams as Low-Latency HLS (fMP4 segments
// and parts, blocking playlist reload) at http://HOST:8080/P/index.m3u8.
//
// One gohlslib muxer per path is made on the first request, fed by one
// stream reader, shared by every HTTP client of that path, and closed when
// nobody asked for it for CloseAfter or when the stream ends. Making it
// opens the stream like any reader does, so a DJI video that is not live is
// started on demand.
package hls

import (
	"context"
	"errors"
	"fmt"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
)

// Defaults of the Server's tuning fields (mediamtx's, which players know).
const (
	DefaultSegmentCount    = 7
	DefaultSegmentDuration = time.Second
	DefaultPartDuration    = 200 * time.Millisecond
	DefaultCloseAfter      = 60 * time.Second
)

// startTimeout bounds the wait for a stream to become playable when a muxer
// is made; it covers a DJI on-demand start (control.reply_timeout is 20 s).
const startTimeout = 30 * time.Second

// Server is the LL-HLS output: a gateway.PathHandler for /P/index.m3u8 and
// the playlists, init segments and parts it names.
type Server struct {
	Hub  *gateway.Hub
	Auth *authz.Auth // nil lets everyone read
	// SegmentCount is how many segments playlists keep (at least 7 for
	// LL-HLS). SegmentDuration is the minimum segment length (segments end
	// on a keyframe), PartDuration the minimum part length.
	SegmentCount    int
	SegmentDuration time.Duration
	PartDuration    time.Duration
	// CloseAfter closes a muxer nobody requested anything from for this long.
	CloseAfter time.Duration
	Log        *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	muxers map[string]*muxer
	closed bool
	wg     sync.WaitGroup

	// onClose, when set (tests), is called after a muxer closed.
	onClose func(path, reason string)
}

// Initialize checks the configuration and fills in defaults.
func (s *Server) Initialize() error {
	if s.Hub == nil {
		return errors.New("hls: Hub is required")
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.SegmentCount == 0 {
		s.SegmentCount = DefaultSegmentCount
	}
	if s.SegmentDuration == 0 {
		s.SegmentDuration = DefaultSegmentDuration
	}
	if s.PartDuration == 0 {
		s.PartDuration = DefaultPartDuration
	}
	if s.CloseAfter == 0 {
		s.CloseAfter = DefaultCloseAfter
	}
	switch {
	case s.SegmentCount < 7:
		return fmt.Errorf("hls: segment count %d: low-latency HLS needs at least 7", s.SegmentCount)
	case s.SegmentDuration < 0 || s.PartDuration < 0 || s.CloseAfter < 0:
		return errors.New("hls: durations must be positive")
	case s.PartDuration > s.SegmentDuration:
		return fmt.Errorf("hls: part duration %v is longer than segment duration %v", s.PartDuration, s.SegmentDuration)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.muxers = map[string]*muxer{}
	return nil
}

// Close ends every muxer; clients waiting on a playlist get a 404.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed || s.muxers == nil {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.cancel()
	for _, m := range s.muxers {
		m.close("server closing")
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// ServePath answers /P/index.m3u8 and the files it names; file is the last
// URL segment.
func (s *Server) ServePath(w http.ResponseWriter, r *http.Request, path, file string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		gateway.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "LL-HLS is read with GET")
		return
	}
	if s.Auth != nil {
		if err := s.Auth.AuthorizeRead(r.Context(), path, "hls", remoteAddr(r), authz.HTTPCredential(r)); err != nil {
			gateway.WriteReadRefusal(w, r, err)
			return
		}
	}
	m, err := s.muxerFor(r.Context(), path)
	if err != nil {
		writeStartError(w, path, err)
		return
	}
	defer m.release()
	m.serve(w, r, file)
}

// muxerFor returns path's running muxer, making it when there is none. The
// returned muxer counts the request as in flight until release.
func (s *Server) muxerFor(ctx context.Context, path string) (*muxer, error) {
	for range 2 {
		s.mu.Lock()
		if s.closed || s.muxers == nil {
			s.mu.Unlock()
			return nil, errClosed
		}
		m := s.muxers[path]
		if m == nil {
			m = newMuxer(s, path)
			s.muxers[path] = m
			s.wg.Add(1)
			go m.run()
		}
		m.acquire()
		s.mu.Unlock()

		select {
		case <-m.ready:
		case <-ctx.Done():
			m.release()
			return nil, ctx.Err()
		}
		if m.err != nil {
			m.release()
			return nil, m.err
		}
		// A publisher with other codecs replaced the stream: its muxer
		// describes a stream that is gone.
		if cur := s.Hub.Stream(path); cur != nil && cur != m.stream {
			m.release()
			m.close("stream replaced")
			s.remove(m)
			continue
		}
		return m, nil
	}
	return nil, errors.New("the stream keeps changing")
}

// remove forgets m if it is still path's muxer.
func (s *Server) remove(m *muxer) {
	s.mu.Lock()
	if s.muxers[m.path] == m {
		delete(s.muxers, m.path)
	}
	s.mu.Unlock()
}

var errClosed = errors.New("the HLS server is closing")

// writeStartError answers a request whose muxer could not start.
func writeStartError(w http.ResponseWriter, path string, err error) {
	switch {
	case errors.Is(err, gateway.ErrNotFound):
		gateway.WriteError(w, http.StatusNotFound, "not_found", "no stream on path "+path)
	case errors.Is(err, gateway.ErrInvalidPath):
		gateway.WriteError(w, http.StatusBadRequest, "invalid_path", err.Error())
	case errors.Is(err, errNoTrack):
		gateway.WriteError(w, http.StatusUnsupportedMediaType, "unsupported_codec", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		gateway.WriteError(w, http.StatusGatewayTimeout, "timeout", "the stream did not become playable in time")
	case errors.Is(err, context.Canceled), errors.Is(err, errClosed):
		gateway.WriteError(w, http.StatusServiceUnavailable, "unavailable", "request ended before the stream was ready")
	default:
		// On-demand starts fail for reasons the control plane names
		// (device offline, a decoded refusal): the same answer WHEP gives,
		// so a player shows the device's words whichever protocol asked.
		gateway.WriteError(w, http.StatusBadGateway, "start_failed", "cannot start the stream on "+path+": "+err.Error())
	}
}

// remoteAddr parses the client's address for the read check.
func remoteAddr(r *http.Request) net.Addr {
	a, err := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	if err != nil {
		return nil
	}
	return a
}
