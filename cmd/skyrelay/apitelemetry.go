package main

import (
	"net/http"

	"github.com/skyrelay/skyrelay/gateway/authz"
	"github.com/skyrelay/skyrelay/gateway/web"
)

// telemetryRead tells whether r is GET /api/v1/telemetry?path=P (the key
// may repeat) with a token that may read every P named: who may watch a
// path may see the telemetry of the devices that film it, and the
// handler then sends those devices only (web.Telemetry). A request with
// no path, or an empty one, is not such a read: the whole fleet's
// telemetry needs "api".
func telemetryRead(r *http.Request, az *authz.Authorizer, host, tok string) bool {
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || r.URL.Path != "/api/v1/telemetry" {
		return false
	}
	paths, named := web.TelemetryPaths(r.URL.Query())
	if !named || len(paths) == 0 {
		return false
	}
	for _, p := range paths {
		if p == "" || az.Authorize(r.Context(), authz.Request{Action: authz.ActionRead, Path: p,
			Protocol: "telemetry", IP: host, Token: tok, Query: r.URL.RawQuery}) != nil {
			return false
		}
	}
	return true
}
