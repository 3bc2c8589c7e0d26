package main

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"

	"github.com/skyrelay/skyrelay/gateway"
)

// apiGuard keeps /api/ to loopback unless auth.api_token is set, and then
// asks other clients for it as a bearer token. The control API can send
// any Cloud API service to a dock (flight commands included), so it is
// never open to the network by default; /healthz, /metrics, the pages and
// the media endpoints are not behind it.
func apiGuard(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
				next.ServeHTTP(w, r)
				return
			}
		}
		if token == "" {
			gateway.WriteError(w, http.StatusForbidden, "forbidden", "the API answers loopback only; set auth.api_token to use it from elsewhere")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="skyrelay"`)
			gateway.WriteError(w, http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <auth.api_token>")
			return
		}
		next.ServeHTTP(w, r)
	})
}
