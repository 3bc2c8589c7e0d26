// Package web serves Skyrelay's web pages: the list of live streams at /,
// a player for each stream at /P/ (WebRTC through WHEP first, LL-HLS
// through hls.js when WebRTC fails), and the static files they load at
// /static/. Everything is embedded in the binary; no page loads anything
// from another site.
package web

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/skyrelay/skyrelay/gateway"
)

// Pages is the web pages' gateway.PathHandler: the HTTP server hands it
// "/" (path ""), "/P/" and "/P" (path P), and every other URL that names no
// stream endpoint, "/static/..." included (path "static/...").
type Pages struct {
	Hub *gateway.Hub
	// Cameras, when set, lists the cameras of the DJI devices the control
	// plane knows; the index links each one, and opening it starts the
	// device's push on demand.
	Cameras func() []Camera
	Log     *slog.Logger
}

// Camera is one DJI camera video the index offers.
type Camera struct {
	VideoID string // the stream path
	Gateway string // the dock or remote controller it is reached through
	Online  bool
}

// staticPrefix is the URL folder of the embedded static files. A stream
// cannot be played from a path under it.
const staticPrefix = "static"

// ServePath answers one page request.
func (p *Pages) ServePath(w http.ResponseWriter, r *http.Request, path, _ string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		gateway.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "pages are read with GET")
		return
	}
	switch {
	case path == "":
		p.serveIndex(w, r)
	case path == staticPrefix || strings.HasPrefix(path, staticPrefix+"/"):
		serveStatic(w, r, strings.TrimPrefix(strings.TrimPrefix(path, staticPrefix), "/"))
	case path == "favicon.ico" || path == "robots.txt":
		gateway.WriteError(w, http.StatusNotFound, "not_found", "nothing here")
	case !strings.HasSuffix(r.URL.Path, "/"):
		// /P → /P/: the player's relative URLs (whep, index.m3u8) need the
		// slash. The query (a read credential) goes along.
		target := "/" + path + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusFound)
	default:
		p.servePlayer(w, r, path)
	}
}

// pageHeaders keeps pages to their own origin and blob: media (MSE).
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "+
		"worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'self'")
}
