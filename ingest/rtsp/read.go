package rtsp

import (
	"context"
	"errors"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"

	"github.com/skyrelay/skyrelay/gateway"
)

// bytesEvery is how often a reader's bytes sent are copied into the stream
// core's counters.
const bytesEvery = time.Second

// reader is the state of an RTSP session that reads (SETUP with
// mode=play, PLAY).
//
// Media reach the session through the output's ServerStream. The
// gateway.Reader registered at PLAY only makes the session count as a
// reader (API, metrics, on-demand idle stop) and tells when the stream
// ends; its Handle sends nothing, so nothing is sent twice.
type reader struct {
	out    *output
	sess   *gortsplib.ServerSession
	remote string
	r      *gateway.Reader // set at PLAY

	mu        sync.Mutex
	sentBytes uint64 // session bytes already counted
	counted   time.Time
}

// onDescribe answers with the SDP of a path's stream (RFC 2326 §10.2),
// waiting for it to become playable (a DJI video starts on demand).
func (s *Server) onDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	path := strings.TrimPrefix(ctx.Path, "/")
	o, res, err := s.openRead(ctx.Conn, ctx.Request, path, ctx.Query)
	if o == nil {
		return res, nil, err
	}
	return &base.Response{StatusCode: base.StatusOK}, o.st, nil
}

// onSetup accepts a publisher's track setups as they are, and sets up a
// reader session on the path's output (RFC 2326 §10.4).
func (s *Server) onSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		if _, ok := ctx.Session.UserData().(*publisher); !ok {
			return refuseStream(base.StatusBadRequest, "Bad Request (SETUP without ANNOUNCE)")
		}
		return &base.Response{StatusCode: base.StatusOK}, nil, nil
	}
	path := strings.TrimPrefix(ctx.Path, "/")
	if rd, ok := ctx.Session.UserData().(*reader); ok {
		// A further track of the same session: gortsplib wants the stream
		// of its first SETUP.
		if rd.out.path != path {
			return refuseStream(base.StatusBadRequest, "Bad Request (tracks of different paths)")
		}
		if st := ctx.Session.Stream(); st != nil {
			return &base.Response{StatusCode: base.StatusOK}, st, nil
		}
		return &base.Response{StatusCode: base.StatusOK}, rd.out.st, nil
	}
	o, res, err := s.openRead(ctx.Conn, ctx.Request, path, ctx.Query)
	if o == nil {
		return res, nil, err
	}
	if !s.attach(o) {
		return refuseStream(base.StatusNotFound, "Not Found (the stream ended)")
	}
	ctx.Session.SetUserData(&reader{out: o, sess: ctx.Session, remote: s.remote(ctx.Conn).String()})
	return &base.Response{StatusCode: base.StatusOK}, o.st, nil
}

// onPlay registers the session as a reader of the stream (RFC 2326 §10.5).
//
// A reader that joins mid-GOP gets packets from the next one on: the
// ServerStream is shared and cannot replay the GOP to one session, and
// earlier packets written into the session alone would precede the
// sequence number and timestamp the PLAY response's RTP-Info announces,
// which clients such as GStreamer's rtspsrc drop. The first picture
// therefore waits for the next keyframe (2–3 s on DJI streams); WebRTC and
// LL-HLS start from the last keyframe.
func (s *Server) onPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	rd, _ := ctx.Session.UserData().(*reader)
	if rd == nil {
		return refuse(base.StatusBadRequest, "Bad Request (PLAY without SETUP)")
	}
	if rd.r != nil {
		return &base.Response{StatusCode: base.StatusOK}, nil // PLAY again
	}
	// SkipRTP: the packets reach the session through the output's sink;
	// this reader only counts bytes.
	r := &gateway.Reader{Protocol: "rtsp", RemoteAddr: rd.remote, Handle: rd.handle, SkipRTP: true}
	rd.r = r
	if err := rd.out.stream.AddReader(r); err != nil {
		rd.r = nil
		return refuse(base.StatusNotFound, "Not Found (the stream ended)")
	}
	go rd.watch(s)
	s.Log.Info("RTSP reader playing", "path", rd.out.path, "remote", rd.remote, "transport", transportName(ctx.Session))
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// openRead authenticates a reader and finds the output of its path.
func (s *Server) openRead(c *gortsplib.ServerConn, req *base.Request, path, query string) (*output, *base.Response, error) {
	remote := s.remote(c)
	cred := presented(req, query)
	if err := s.Auth.AuthorizeRead(s.ctx, path, s.scheme(), remote, cred); err != nil {
		if provided(cred) {
			s.Log.Warn("RTSP reader refused", "path", path, "remote", remote.String(), "reason", err.Error())
		}
		if errors.Is(err, authz.ErrForbidden) {
			res, err := refuse(base.StatusForbidden, "Forbidden (this credential does not allow this path)")
			return nil, res, err
		}
		res, err := unauthorized()
		return nil, res, err
	}
	o, err := s.open(path)
	if err != nil {
		status, msg := readStatus(err)
		if ok, n := s.errLog.allow("read " + path + " " + remoteIP(remote)); ok {
			s.Log.Info("RTSP reader refused", "path", path, "remote", remote.String(), "reason", err.Error(), "suppressed", n)
		}
		res, err := refuse(status, msg)
		return nil, res, err
	}
	return o, nil, nil
}

// open waits, within StartTimeout, for path to be playable and returns its
// output.
func (s *Server) open(path string) (*output, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.StartTimeout)
	defer cancel()
	stream, err := s.Hub.Read(ctx, path)
	if err != nil {
		return nil, err
	}
	return s.output(stream)
}

// readStatus maps why a path cannot be read to an RTSP status and phrase.
func readStatus(err error) (base.StatusCode, string) {
	switch {
	case errors.Is(err, gateway.ErrInvalidPath):
		return base.StatusBadRequest, "Bad Request (invalid path)"
	case errors.Is(err, gateway.ErrNotFound):
		return base.StatusNotFound, "Not Found (no stream on this path)"
	case errors.Is(err, context.DeadlineExceeded):
		return base.StatusServiceUnavailable, "Service Unavailable (the stream is not playable yet, try again)"
	case errors.Is(err, errServerClosed), errors.Is(err, context.Canceled):
		return base.StatusServiceUnavailable, "Service Unavailable (shutting down)"
	default:
		return base.StatusServiceUnavailable, "Service Unavailable (the stream could not be started)"
	}
}

func refuseStream(status base.StatusCode, reason string) (*base.Response, *gortsplib.ServerStream, error) {
	res, err := refuse(status, reason)
	return res, nil, err
}

// handle runs for every frame in the reader's goroutine. It sends nothing
// (the ServerStream does) and only keeps the byte counters current.
func (rd *reader) handle(gateway.Frame) error {
	rd.countBytes(false)
	return nil
}

// countBytes copies the bytes gortsplib sent to this session into the
// stream core's counters, at most every bytesEvery unless final.
func (rd *reader) countBytes(final bool) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	now := time.Now()
	if !final && now.Sub(rd.counted) < bytesEvery {
		return
	}
	rd.counted = now
	sent := rd.sess.Stats().OutboundBytes
	if sent > rd.sentBytes {
		rd.r.AddBytes(int(sent - rd.sentBytes))
		rd.sentBytes = sent
	}
}

// watch waits for the reader to end. When its stream ended for good, the
// output closes, which closes every RTSP session reading it.
func (rd *reader) watch(s *Server) {
	<-rd.r.Done()
	if errors.Is(rd.r.Err(), gateway.ErrStreamGone) {
		s.Log.Info("RTSP readers closed: the stream ended", "path", rd.out.path)
		s.closeOutput(rd.out)
	}
}

// close unregisters the reader when its session ends.
func (rd *reader) close(s *Server, err error) {
	if rd.r != nil {
		rd.countBytes(true)
		rd.r.Close()
		s.Log.Info("RTSP reader stopped", "path", rd.out.path, "remote", rd.remote, "reason", reason(err))
	}
	s.detach(rd.out)
}

func remoteIP(a net.Addr) string {
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}
