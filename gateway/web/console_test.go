package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/skyrelay/skyrelay/gateway"
)

// TestPageRoutes: every page answers where docs/api.md ("Pages") puts it, and a
// path nobody publishes is a 404 page with the configured publish URL,
// not a player that spins.
func TestPageRoutes(t *testing.T) {
	hub := gateway.NewHub(0, testLog())
	t.Cleanup(hub.Close)
	p := &Pages{Hub: hub, Log: testLog(), Site: Site{RTMP: "rtmp://203.0.113.5:1936", RTSP: "rtsp://203.0.113.5:8555"},
		Cameras: func() []Camera { return []Camera{{VideoID: "SN1/99-0-0/normal-0", Device: "DOCK1", Online: true}} }}
	for _, c := range []struct {
		method, url, path string
		status            int
		want              []string
	}{
		{"GET", "/", "", 200, []string{`src="/static/console.js"`, `data-rtmp="rtmp://203.0.113.5:1936"`, "rtmp://203.0.113.5:1936/live/a"}},
		{"GET", "/wall?paths=live/a,live/b", "wall", 200, []string{`src="/static/wall.js"`, `src="/static/play.js"`}},
		{"GET", "/wall/", "wall", 200, []string{`src="/static/wall.js"`}},
		{"GET", "/pilot/", "pilot", 200, []string{`src="/static/pilot.js"`}},
		{"GET", "/live/typo/", "live/typo", 404, []string{"rtmp://203.0.113.5:1936/live/typo", "rtsp://203.0.113.5:8555/live/typo", `src="/static/nostream.js"`}},
		{"GET", "/SN1/99-0-0/normal-0/", "SN1/99-0-0/normal-0", 200, []string{`data-dji="true"`, `src="/static/player.js"`}},
		{"GET", "/recordings/", "recordings", 200, []string{`src="/static/recordings.js"`, `id="timeline"`}},
		{"GET", "/recordings/?path=live/a", "recordings", 200, []string{`src="/static/recordings.js"`}},
		{"GET", "/recordings/live/a/", "recordings/live/a", 404, []string{"rtmp://203.0.113.5:1936/recordings/live/a"}},
		{"GET", "/pilot/RC1/", "pilot/RC1", 404, []string{"rtmp://203.0.113.5:1936/pilot/RC1"}},
		{"GET", "/static/console.js", "static/console.js", 200, []string{"window.skyConsole"}},
		{"GET", "/static/vendor/hls.js/LICENSE", "static/vendor/hls.js/LICENSE", 200, []string{"Apache"}},
		{"POST", "/", "", 405, nil},
	} {
		rec := httptest.NewRecorder()
		p.ServePath(rec, httptest.NewRequest(c.method, c.url, nil), c.path, "")
		body := rec.Body.String()
		if rec.Code != c.status {
			t.Errorf("%s %s = %d, want %d", c.method, c.url, rec.Code, c.status)
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s %s lacks %q", c.method, c.url, w)
			}
		}
	}
	rec := httptest.NewRecorder()
	p.ServePath(rec, httptest.NewRequest("GET", "/pilot", nil), "pilot", "")
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/pilot/" {
		t.Errorf("/pilot = %d %q, want a redirect to /pilot/", rec.Code, rec.Header().Get("Location"))
	}
}

// TestHintsFollowTheBrowsersHost: without configured URLs the hint uses
// the host the browser reached, not a placeholder.
func TestHintsFollowTheBrowsersHost(t *testing.T) {
	p := &Pages{}
	r := httptest.NewRequest("GET", "http://gw.example:8080/", nil)
	if rtmp, rtsp := p.hints(r); rtmp != "rtmp://gw.example:1935" || rtsp != "rtsp://gw.example:8554" {
		t.Fatalf("hints %q %q", rtmp, rtsp)
	}
	r = httptest.NewRequest("GET", "http://[2001:db8::1]:8080/", nil)
	if rtmp, _ := p.hints(r); rtmp != "rtmp://[2001:db8::1]:1935" {
		t.Fatalf("IPv6 hint %q", rtmp)
	}
}

// TestTileOrigin: the console's CSP lets images come from the configured
// tile server, and only from it.
func TestTileOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"":                                      "",
		"https://tiles.example/{z}/{x}/{y}.png": "https://tiles.example",
		"http://{s}.tile.local:8081/{z}/{x}/{y}.png": "http://a.tile.local:8081",
		"/tiles/{z}/{x}/{y}.png":                     "",
		"javascript:alert(1)":                        "",
		"ftp://x/{z}":                                "",
	} {
		if got := tileOrigin(in); got != want {
			t.Errorf("tileOrigin(%q) = %q, want %q", in, got, want)
		}
	}
	hub := gateway.NewHub(0, testLog())
	t.Cleanup(hub.Close)
	p := &Pages{Hub: hub, MapTileURL: "https://tiles.example/{z}/{x}/{y}.png", MapAttribution: "© tiles"}
	rec := httptest.NewRecorder()
	p.ServePath(rec, httptest.NewRequest("GET", "/", nil), "", "")
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://tiles.example;") {
		t.Fatalf("CSP %q", csp)
	}
	if !strings.Contains(rec.Body.String(), `data-tiles="https://tiles.example/{z}/{x}/{y}.png"`) {
		t.Fatal("the console does not carry the tile URL")
	}
}
