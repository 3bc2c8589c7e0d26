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
			err := az.Authorize(r.Context(), authz.Request{Action: authz.ActionAPI, Path: strings.TrimPrefix(r.URL.Path, "/"),
				Protocol: "api", IP: host, Token: authz.TokenFromRequest(r), Query: r.URL.RawQuery})
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
