package webrtc

import (
	"context"
	"errors"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"net/http"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
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
	body, ok := readOffer(w, r)
	if !ok {
		return
	}
	remote := remoteAddr(r)
	if s.Auth != nil {
		if err := s.Auth.AuthorizeRead(r.Context(), path, "webrtc", remote, authz.HTTPCredential(r)); err != nil {
			gateway.WriteReadRefusal(w, r, err)
			return
		}
	}
	o, err := parseWHEPOffer(body)
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
	x, answer, err := s.startWHEP(r.Context(), path, r.RemoteAddr, st, pl, body)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeAnswer(w, "/"+path+"/whep/"+x.id, x.etag, answer)
}

func (h whepHandler) patch(w http.ResponseWriter, r *http.Request, path, id string) {
	x := h.s.whepSession(id)
	if x == nil || x.path != path {
		gateway.WriteError(w, http.StatusNotFound, "not_found", "no such WHEP session")
		return
	}
	trickle(w, r, x.peer, x.etag, "WHEP")
}

func (h whepHandler) delete(w http.ResponseWriter, _ *http.Request, path, id string) {
	x := h.s.whepSession(id)
	if x == nil || x.path != path {
		gateway.WriteError(w, http.StatusNotFound, "not_found", "no such WHEP session")
		return
	}
	x.stop("deleted by the client")
	answerDeleted(w, x.done)
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
