package webrtc

import (
	"net/http"

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
