package webrtc

import (
	"context"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
)

// Limits on request bodies: a browser offer is a few kB.
const (
	maxOfferSize    = 64 << 10
	maxFragmentSize = 16 << 10
)

// whepHandler serves WHEP (draft-ietf-wish-whep, which follows WHIP's
// RFC 9725 signalling): POST an offer to /P/whep, PATCH trickle candidates
// to and DELETE the session at /P/whep/ID.
type whepHandler struct{ s *Server }

func (h whepHandler) ServePath(w http.ResponseWriter, r *http.Request, path, rest string) {
	route(w, r, "WHEP", path, rest, h)
}

func (h whepHandler) post(w http.ResponseWriter, r *http.Request, path string) {
	s := h.s
	if s.isClosed() {
		gateway.WriteError(w, http.StatusServiceUnavailable, "closing", "the server is shutting down")
		return
	}
	if !hasType(r, "application/sdp") {
		gateway.WriteError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the SDP offer with Content-Type: application/sdp")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOfferSize))
	if err != nil {
		gateway.WriteError(w, http.StatusRequestEntityTooLarge, "too_large", "the SDP offer is larger than 64 kB")
		return
	}
	remote := remoteAddr(r)
	if s.Auth != nil {
		if err := s.Auth.AuthorizeRead(r.Context(), path, "webrtc", remote, gateway.HTTPCredential(r)); err != nil {
			gateway.WriteReadRefusal(w, err)
			return
		}
	}
	o, err := parseOffer(string(body))
	if err != nil {
		gateway.WriteError(w, http.StatusBadRequest, "invalid_sdp", err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.StartTimeout)
	defer cancel()
	st, err := s.Hub.Read(ctx, path)
	if err != nil {
		writeReadError(w, r, path, err, s.StartTimeout)
		return
	}
	if st.HasBFrames() {
		gateway.WriteError(w, http.StatusNotAcceptable, "bframes_not_supported",
			"the stream has B-frames, which WebRTC cannot carry; use LL-HLS at /"+path+"/index.m3u8")
		return
	}
	pl, err := planWHEP(o, st.Tracks(), path)
	if err != nil {
		writeErr(w, err)
		return
	}
	x, answer, err := s.startWHEP(r.Context(), path, r.RemoteAddr, st, pl, string(body))
	if err != nil {
		writeErr(w, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/sdp")
	hd.Set("Location", "/"+path+"/whep/"+x.id)
	hd.Set("ETag", x.etag)
	hd.Set("Accept-Patch", "application/trickle-ice-sdpfrag")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

func (h whepHandler) patch(w http.ResponseWriter, r *http.Request, path, id string) {
	x := h.s.session(id)
	if x == nil || x.path != path {
		gateway.WriteError(w, http.StatusNotFound, "not_found", "no such WHEP session")
		return
	}
	trickle(w, r, x.peer, x.etag, "WHEP")
}

func (h whepHandler) delete(w http.ResponseWriter, _ *http.Request, path, id string) {
	x := h.s.session(id)
	if x == nil || x.path != path {
		gateway.WriteError(w, http.StatusNotFound, "not_found", "no such WHEP session")
		return
	}
	x.stop("deleted by the client")
	// Answer once the viewer is really gone, so that a client (or a test)
	// that reads the stream's readers right after sees the truth.
	select {
	case <-x.done:
	case <-time.After(5 * time.Second):
	}
	w.WriteHeader(http.StatusOK)
}

// writeReadError maps hub.Read failures: a path nobody publishes is 404, a
// stream that does not become playable in time is 504, a failed on-demand
// start 502.
func writeReadError(w http.ResponseWriter, r *http.Request, path string, err error, wait time.Duration) {
	switch {
	case errors.Is(err, gateway.ErrNotFound):
		gateway.WriteError(w, http.StatusNotFound, "not_found", "no stream on path "+path)
	case errors.Is(err, gateway.ErrInvalidPath):
		gateway.WriteError(w, http.StatusBadRequest, "invalid_path", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		gateway.WriteError(w, http.StatusGatewayTimeout, "not_ready", "the stream on "+path+" did not become playable within "+wait.String())
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
	default:
		gateway.WriteError(w, http.StatusBadGateway, "start_failed", "cannot start the stream on "+path+": "+err.Error())
	}
}

func writeErr(w http.ResponseWriter, err error) {
	var rf *refusal
	if errors.As(err, &rf) {
		gateway.WriteError(w, rf.status, rf.code, rf.message)
		return
	}
	gateway.WriteError(w, http.StatusInternalServerError, "internal", err.Error())
}

func hasType(r *http.Request, want string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && strings.EqualFold(mt, want)
}

// credential reads what a WHEP client may present: HTTP Basic, or a bearer
// token (the WHIP/WHEP convention).
func credential(r *http.Request) gateway.Credential {
	var c gateway.Credential
	if u, p, ok := r.BasicAuth(); ok {
		c.User, c.Pass = u, p
	}
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		c.Token = strings.TrimSpace(v)
	}
	return c
}

func remoteAddr(r *http.Request) net.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}
