package webrtc

import (
	"errors"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
)

// resource is a WHIP or WHEP endpoint: the same HTTP shape (RFC 9725 §4)
// with a publisher or a viewer behind it.
type resource interface {
	post(w http.ResponseWriter, r *http.Request, path string)
	patch(w http.ResponseWriter, r *http.Request, path, id string)
	delete(w http.ResponseWriter, r *http.Request, path, id string)
}

// route dispatches a request for /P/kind (rest empty: POST an offer,
// OPTIONS) or /P/kind/ID (rest = ID: PATCH candidates, DELETE).
func route(w http.ResponseWriter, r *http.Request, kind, path, rest string, res resource) {
	switch {
	case rest == "" && r.Method == http.MethodPost:
		res.post(w, r, path)
	case rest == "" && r.Method == http.MethodOptions:
		w.Header().Set("Accept-Post", "application/sdp")
		w.Header().Set("Allow", "OPTIONS, POST")
		w.WriteHeader(http.StatusNoContent)
	case rest != "" && r.Method == http.MethodPatch:
		res.patch(w, r, path, rest)
	case rest != "" && r.Method == http.MethodDelete:
		res.delete(w, r, path, rest)
	case rest == "":
		w.Header().Set("Allow", "OPTIONS, POST")
		gateway.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", kind+": POST an SDP offer to this URL")
	default:
		w.Header().Set("Allow", "PATCH, DELETE")
		gateway.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", kind+" session: PATCH trickle candidates or DELETE it")
	}
}

// Limits on request bodies: a browser offer is a few kB.
const (
	maxOfferSize    = 64 << 10
	maxFragmentSize = 16 << 10
)

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
func credential(r *http.Request) authz.Credential {
	var c authz.Credential
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

// readOffer reads the SDP offer of a WHEP or WHIP POST, answering 415 or
// 413 itself when the request is not one.
func readOffer(w http.ResponseWriter, r *http.Request) (string, bool) {
	if !hasType(r, "application/sdp") {
		gateway.WriteError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the SDP offer with Content-Type: application/sdp")
		return "", false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOfferSize))
	if err != nil {
		gateway.WriteError(w, http.StatusRequestEntityTooLarge, "too_large", "the SDP offer is larger than 64 kB")
		return "", false
	}
	return string(body), true
}

// writeAnswer answers a POST with the session's URL and the SDP answer
// (201, RFC 9725 §4.2).
func writeAnswer(w http.ResponseWriter, location, etag, answer string) {
	hd := w.Header()
	hd.Set("Content-Type", "application/sdp")
	hd.Set("Location", location)
	hd.Set("ETag", etag)
	hd.Set("Accept-Patch", "application/trickle-ice-sdpfrag")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// answerDeleted answers a DELETE once the session has really ended (or
// after 5 s), so that a client, or a test, that reads the stream's readers
// or publisher right after sees the truth.
func answerDeleted(w http.ResponseWriter, done <-chan struct{}) {
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	w.WriteHeader(http.StatusOK)
}
