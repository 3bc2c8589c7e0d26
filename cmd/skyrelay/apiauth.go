package main

import (
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/authz"
)

// apiGuard keeps /api/ to loopback unless auth.api_token is set, and then
// asks other clients for it as a bearer token; with auth.jwt or auth.hook,
// a token whose permissions include "api" (or the hook's yes) also lets a
// client in. The control API can send any Cloud API service to a dock
// (flight commands included), so it is never open to the network by
// default; /healthz, /metrics, the pages and the media endpoints are not
// behind it.
//
// auth.loopback_trusted: false (a reverse proxy on this host) takes
// loopback's free pass away here too.
func apiGuard(token string, auth *authz.Auth, next http.Handler) http.Handler {
	var az *authz.Authorizer
	distrust := false
	if auth != nil {
		az, distrust = auth.Authz, auth.DistrustLoopback
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() && !distrust {
			next.ServeHTTP(w, r)
			return
		}
		got, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if bearer && token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 {
			next.ServeHTTP(w, r)
			return
		}
		if az.Enabled() {
			tok := apiTokenOf(r)
			// Who may watch a path may watch its recordings (as mediamtx's
			// playback permission is per path) and see the telemetry of
			// what films it. That question comes first: a viewer's page
			// makes such requests all the time, and the hook's yes to it
			// is remembered where its no to "api" would not be, so asking
			// "api" first would cost one hook call per request.
			if path, ok := recordingRead(r); ok && az.Authorize(r.Context(), authz.Request{Action: authz.ActionRead, Path: path,
				Protocol: "recordings", IP: host, Token: tok, Query: r.URL.RawQuery}) == nil {
				next.ServeHTTP(w, r)
				return
			}
			if telemetryRead(r, az, host, tok) { // apitelemetry.go
				next.ServeHTTP(w, r)
				return
			}
			err := az.Authorize(r.Context(), authz.Request{Action: authz.ActionAPI, Path: strings.TrimPrefix(r.URL.Path, "/"),
				Protocol: "api", IP: host, Token: tok, Query: r.URL.RawQuery})
			switch {
			case err == nil:
				next.ServeHTTP(w, r)
				return
			case !errors.Is(err, authz.ErrNoCredential):
				gateway.WriteError(w, http.StatusForbidden, "forbidden", "this token does not allow the API")
				return
			}
		}
		if token == "" && !az.Enabled() {
			gateway.WriteError(w, http.StatusForbidden, "forbidden", "the API answers loopback only; set auth.api_token to use it from elsewhere")
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="skyrelay"`)
		gateway.WriteError(w, http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <auth.api_token or a token allowing the API>")
	})
}

// apiTokenOf is the JWT a request to the API presents: the bearer token,
// or for a GET or HEAD (an event stream, a <video> of a recording, which
// cannot send a header) the query key jwt or token. A request that changes
// something must send a header: a URL ends up in histories and referrers.
// auth.api_token is compared with the bearer token only, never the query.
func apiTokenOf(r *http.Request) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return authz.TokenFromRequest(r)
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(tok)
	}
	return ""
}

// recordingRead tells whether r reads one path's recordings (its segment
// list, a range MP4 or its telemetry) and which path: the requests a
// token with "read" on that path may make. The suffixes are cut as the
// recordings API cuts them.
func recordingRead(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return "", false
	}
	p, ok := strings.CutPrefix(r.URL.Path, "/api/v1/recordings/")
	if !ok {
		return "", false
	}
	p = strings.Trim(p, "/")
	if s, ok := strings.CutSuffix(p, "/mp4"); ok {
		p = s
	} else if s, ok := strings.CutSuffix(p, "/osd"); ok {
		p = s
	}
	return p, p != ""
}
