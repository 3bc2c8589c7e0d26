// Package web serves Skyrelay's web pages: the operator's console at /
// (devices, cameras, live sessions, streams, a map), the video wall at
// /wall, the DJI Pilot 2 webview page at /pilot/, a player for each stream
// at /P/ (WebRTC through WHEP first, LL-HLS through hls.js when WebRTC
// fails), and the static files they load at /static/. Everything is
// embedded in the binary; no page loads anything from another site (map
// tiles excepted, when an operator configures a tile server).
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
	// plane knows; the console's no-script view links each one, and
	// opening it starts the device's push on demand.
	Cameras func() []Camera
	// Site names the URLs this gateway is reached at, for the hints the
	// pages show (publish with ffmpeg to ...).
	Site Site
	// MapTileURL and MapAttribution are console.map_tile_url and
	// console.map_attribution.
	MapTileURL, MapAttribution string
	Log                        *slog.Logger
}

// Site is where this gateway is reached, as public_host and the listen
// ports make it: "rtmp://203.0.113.5:1935", "rtsp://203.0.113.5:8554".
// Empty fields fall back to the host the browser used.
type Site struct {
	RTMP, RTSP string
}

// Camera is one DJI camera video the control plane offers.
type Camera struct {
	VideoID string // the stream path
	Device  string // the SN of the dock or remote controller it is reached through
	Online  bool
}

// Reserved first path segments: a stream cannot be played from these
// exact paths (deeper paths such as pilot/RCSN are streams as usual).
const (
	staticPrefix = "static"
	wallPath     = "wall"
	pilotPath    = "pilot"
	// recordingsPath is the recordings page (recordings.go).
	recordingsPath = "recordings"
)

// ServePath answers one page request.
func (p *Pages) ServePath(w http.ResponseWriter, r *http.Request, path, _ string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		gateway.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "pages are read with GET")
		return
	}
	switch {
	case path == "":
		p.serveConsole(w, r)
	case path == staticPrefix || strings.HasPrefix(path, staticPrefix+"/"):
		serveStatic(w, r, strings.TrimPrefix(strings.TrimPrefix(path, staticPrefix), "/"))
	case path == "favicon.ico" || path == "robots.txt":
		gateway.WriteError(w, http.StatusNotFound, "not_found", "nothing here")
	case path == wallPath:
		// /wall?paths=... is the documented form; /wall/ works too.
		p.serveWall(w, r)
	case path == pilotPath && strings.HasSuffix(r.URL.Path, "/"):
		p.servePilot(w, r)
	case path == recordingsPath && strings.HasSuffix(r.URL.Path, "/"):
		p.serveRecordings(w)
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
// extraImg is an origin images may also come from (map tiles), or "".
func pageHeaders(w http.ResponseWriter, extraImg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	// A page opened with ?jwt= must not hand its URL to another site
	// (map tiles) as the Referer.
	h.Set("Referrer-Policy", "same-origin")
	img := "img-src 'self' data:"
	if extraImg != "" {
		img += " " + extraImg
	}
	h.Set("Content-Security-Policy", "default-src 'self'; "+img+"; media-src 'self' blob:; "+
		"worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'self'")
}

func (p *Pages) log() *slog.Logger {
	if p.Log == nil {
		return slog.Default()
	}
	return p.Log
}
