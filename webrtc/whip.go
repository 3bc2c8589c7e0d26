package webrtc

import (
	"errors"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"net/http"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
)

// whipHandler serves WHIP ingest (RFC 9725): POST an SDP offer to /P/whip
// (201 with the answer and a Location), PATCH trickle candidates to and
// DELETE the session at /P/whip/ID (§4.3, §4.4).
type whipHandler struct{ s *Server }

func (h whipHandler) ServePath(w http.ResponseWriter, r *http.Request, path, rest string) {
	route(w, r, "WHIP", path, rest, h)
}

// publishCredential reads what a WHIP publisher may present: a bearer token
// (RFC 9725 §4.5), HTTP Basic, or ?secret= in the URL for devices that can
// only be given a URL (a DJI RC's url_type 4 is one string).
func publishCredential(r *http.Request) authz.Credential {
	c := credential(r)
	if c.Token == "" {
		c.Token = r.URL.Query().Get("secret")
	}
	return c
}

func (h whipHandler) auth() *authz.Auth {
	if h.s.Auth != nil {
		return h.s.Auth
	}
	// Without an Auth only loopback may publish: never open by accident.
	return &authz.Auth{}
}

func (h whipHandler) post(w http.ResponseWriter, r *http.Request, path string) {
	s := h.s
	if s.isClosed() {
		gateway.WriteError(w, http.StatusServiceUnavailable, "closing", "the server is shutting down")
		return
	}
	remote := remoteAddr(r)
	if err := h.auth().CheckPublish(path, remote, publishCredential(r)); err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="skyrelay"`)
		gateway.WriteError(w, http.StatusUnauthorized, "unauthorized", "publishing needs the push secret: a bearer token or ?secret= in the URL")
		return
	}
	body, ok := readOffer(w, r)
	if !ok {
		return
	}
	o, err := parseWHIPOffer(body)
	if err != nil {
		gateway.WriteError(w, http.StatusBadRequest, "invalid_sdp", err.Error())
		return
	}
	pl, err := planWHIP(o)
	if err != nil {
		writeErr(w, err)
		return
	}
	x, answer, err := s.startWHIP(r.Context(), path, r.RemoteAddr, pl, body)
	switch {
	case errors.Is(err, gateway.ErrPathBusy):
		gateway.WriteError(w, http.StatusConflict, "path_busy", "path "+path+" already has a publisher")
		return
	case err != nil:
		writeErr(w, err)
		return
	}
	writeAnswer(w, "/"+path+"/whip/"+x.id, x.etag, answer)
}

// sessionFor finds a WHIP session and checks the request may touch it: the
// session URL is an unguessable capability, and a publisher from elsewhere
// must also present the push credential again.
func (h whipHandler) sessionFor(w http.ResponseWriter, r *http.Request, path, id string) *whipSession {
	x := h.s.whipSession(id)
	if x == nil || x.path != path {
		gateway.WriteError(w, http.StatusNotFound, "not_found", "no such WHIP session")
		return nil
	}
	if err := h.auth().CheckPublish(path, remoteAddr(r), publishCredential(r)); err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="skyrelay"`)
		gateway.WriteError(w, http.StatusUnauthorized, "unauthorized", "the push secret is required")
		return nil
	}
	return x
}

func (h whipHandler) patch(w http.ResponseWriter, r *http.Request, path, id string) {
	x := h.sessionFor(w, r, path, id)
	if x == nil {
		return
	}
	trickle(w, r, x.peer, x.etag, "WHIP")
}

func (h whipHandler) delete(w http.ResponseWriter, r *http.Request, path, id string) {
	x := h.sessionFor(w, r, path, id)
	if x == nil {
		return
	}
	x.stop("deleted by the publisher")
	answerDeleted(w, x.done)
}

// whipAnswerTimeout bounds ICE gathering before the answer.
const whipAnswerTimeout = 10 * time.Second
