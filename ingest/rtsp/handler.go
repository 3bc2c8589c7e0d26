package rtsp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"

	"github.com/skyrelay/skyrelay/gateway/tlscert"
)

// handler adapts gortsplib's callbacks to the Server. gortsplib calls them
// from each connection's and session's own goroutine.
type handler struct{ s *Server }

// The callbacks gortsplib finds on the handler.
var (
	_ gortsplib.ServerHandlerOnConnOpen         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnConnClose        = (*handler)(nil)
	_ gortsplib.ServerHandlerOnSessionClose     = (*handler)(nil)
	_ gortsplib.ServerHandlerOnAnnounce         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnRecord           = (*handler)(nil)
	_ gortsplib.ServerHandlerOnDescribe         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnSetup            = (*handler)(nil)
	_ gortsplib.ServerHandlerOnPlay             = (*handler)(nil)
	_ gortsplib.ServerHandlerOnPacketsLost      = (*handler)(nil)
	_ gortsplib.ServerHandlerOnDecodeError      = (*handler)(nil)
	_ gortsplib.ServerHandlerOnStreamWriteError = (*handler)(nil)
)

func (h *handler) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	h.s.Log.Debug("RTSP connection opened", "remote", h.s.remote(ctx.Conn).String())
}

// OnConnClose logs why a connection ended when it was the client's fault
// (garbage on the port, a malformed request or SDP), at most every few
// seconds per client address. Refusals were logged when they were made.
func (h *handler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	remote := h.s.remote(ctx.Conn)
	if notTLS(ctx.Error) {
		// Counted by the TLS listener (skyrelay_tls_plaintext_refused_total);
		// a scanner must not fill the log.
		h.s.Log.Debug("RTSPS connection refused: plain text on the TLS port", "remote", remote.String())
		return
	}
	if quiet(ctx.Error) {
		h.s.Log.Debug("RTSP connection closed", "remote", remote.String())
		return
	}
	if ok, n := h.s.errLog.allow("conn " + remoteIP(remote)); ok {
		h.s.Log.Warn("RTSP connection closed on an error", "remote", remote.String(), "error", ctx.Error.Error(), "suppressed", n)
	}
}

// OnSessionClose detaches the session's publisher or reader.
func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	switch v := ctx.Session.UserData().(type) {
	case *publisher:
		v.close(h.s, ctx.Error)
	case *reader:
		v.close(h.s, ctx.Error)
	}
}

func (h *handler) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	return h.s.onAnnounce(ctx)
}

func (h *handler) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	return h.s.onRecord(ctx)
}

func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return h.s.onDescribe(ctx)
}

func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return h.s.onSetup(ctx)
}

func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return h.s.onPlay(ctx)
}

// OnPacketsLost: RTP packets a publisher sent over UDP that never came.
func (h *handler) OnPacketsLost(ctx *gortsplib.ServerHandlerOnPacketsLostCtx) {
	h.s.sessionLog(ctx.Session, "lost", "RTSP publisher: RTP packets lost", "lost", ctx.Lost)
}

// OnDecodeError: a publisher's packet that could not be parsed is skipped.
func (h *handler) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	h.s.sessionLog(ctx.Session, "decode", "RTSP publisher: packet skipped", "error", ctx.Error.Error())
}

// OnStreamWriteError: a reader too slow for the stream loses packets; the
// publisher and the other readers are not held up.
func (h *handler) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	h.s.sessionLog(ctx.Session, "write", "RTSP reader too slow: packets dropped", "error", ctx.Error.Error())
}

// sessionLog logs an event of a session at most every logEvery.
func (s *Server) sessionLog(ss *gortsplib.ServerSession, kind, msg string, args ...any) {
	ok, n := s.errLog.allow(fmt.Sprintf("%s %p", kind, ss))
	if !ok {
		return
	}
	switch v := ss.UserData().(type) {
	case *publisher:
		args = append(args, "path", v.path, "remote", v.remote)
	case *reader:
		args = append(args, "path", v.out.path, "remote", v.remote)
	}
	s.Log.Warn(msg, append(args, "suppressed", n)...)
}

// quiet tells the ends of a connection that need no warning: the client
// left, the server closed, or a refusal already logged.
func quiet(err error) bool {
	var r refusal
	var torn liberrors.ErrServerSessionTornDown
	var term liberrors.ErrServerTerminated
	var auth liberrors.ErrServerAuth
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &r) || errors.As(err, &torn) || errors.As(err, &term) || errors.As(err, &auth)
}

// notTLS tells whether err ended a connection to the RTSPS port that did not
// start with a TLS handshake.
func notTLS(err error) bool {
	var rh tls.RecordHeaderError
	return errors.As(err, &rh) || errors.Is(err, tlscert.ErrPlaintext)
}

// reason says why a session ended, for the log.
func reason(err error) string {
	if err == nil {
		return "closed"
	}
	return err.Error()
}
