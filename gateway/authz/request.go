package authz

import (
	"net/http"
	"net/url"
	"strings"
)

// Actions a Request asks for.
const (
	ActionRead = "read"
	// ActionAPI is the HTTP API (/api/), recordings included.
	ActionAPI = "api"
)

// Request is one attempt to read or use the API, as the hook
// receives it (JSON) and as a token's permissions are matched against it.
type Request struct {
	Action   string `json:"action"`
	Path     string `json:"path"`
	Protocol string `json:"protocol"` // rtsp, rtmp, webrtc, hls, api, ...
	IP       string `json:"ip"`
	User     string `json:"user"`
	Password string `json:"password"`
	Token    string `json:"token"`
	Query    string `json:"query"` // the raw query of the request's URL
}

// TokenFromRequest finds a bearer token in an HTTP request: the
// Authorization header (Bearer), else the query keys jwt and token, which
// a player page and hls.js can carry where they cannot set headers.
func TokenFromRequest(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
	}
	return TokenFromQuery(r.URL.Query())
}

// TokenFromQuery finds a token in the query keys jwt or token (the names
// mediamtx and SRS players use).
func TokenFromQuery(q url.Values) string {
	if t := q.Get("jwt"); t != "" {
		return t
	}
	return q.Get("token")
}
