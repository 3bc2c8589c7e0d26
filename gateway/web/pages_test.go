package web

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/hls"
	"github.com/skyrelay/skyrelay/gateway/hls/hlstest"
	"github.com/skyrelay/skyrelay/webrtc"
)

func testLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newServer is the HTTP server with the pages and LL-HLS, and no WHEP: the
// player must fall back to LL-HLS.
func newServer(t *testing.T) (*gateway.Hub, string) {
	return newServerWHEP(t, nil, 0)
}

// whepOf makes a WHEP handler for the hub newServerWHEP creates.
type whepOf func(*gateway.Hub) gateway.PathHandler

// newServerWHEP is newServer with a WHEP handler (a gateway.PathHandler or
// a whepOf) and a reconnect grace.
func newServerWHEP(t *testing.T, whep any, grace time.Duration) (*gateway.Hub, string) {
	t.Helper()
	log := testLog()
	hub := gateway.NewHub(grace, log)
	t.Cleanup(hub.Close)
	var wh gateway.PathHandler
	switch w := whep.(type) {
	case whepOf:
		wh = w(hub)
	case gateway.PathHandler:
		wh = w
	}
	h := &hls.Server{Hub: hub, Log: log}
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	hs := &gateway.HTTPServer{Address: "127.0.0.1:0", HLS: h, WHEP: wh, Page: &Pages{Hub: hub, Log: log}, Log: log}
	if err := hs.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hs.Close)
	return hub, "http://" + hs.Addr().String()
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestIndexListsLiveStreams(t *testing.T) {
	hub, base := newServer(t)
	if res, body := get(t, base+"/"); res.StatusCode != http.StatusOK || !strings.Contains(body, "No stream is live") {
		t.Fatalf("empty index = %d:\n%s", res.StatusCode, body)
	}
	hlstest.Publish(t, hub, "live/a", hlstest.H264Clip(t, 320, 240, 30, 2))
	if err := hub.WaitReady(t.Context(), "live/a"); err != nil {
		t.Fatal(err)
	}
	res, body := get(t, base+"/")
	if ct := res.Header.Get("Content-Type"); res.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("index = %d %s", res.StatusCode, ct)
	}
	for _, want := range []string{`<tr data-path="live/a">`, `href="/live/a/"`, `href="/live/a/index.m3u8"`,
		"h264 320×240", "<td>live</td>", "<td>test</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("index lacks %q:\n%s", want, body)
		}
	}
}

func TestPathWithoutSlashRedirects(t *testing.T) {
	_, base := newServer(t)
	res, _ := get(t, base+"/live/a?user=u&pass=p")
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/live/a/?user=u&pass=p" {
		t.Fatalf("GET /live/a = %d Location %q, want 302 to /live/a/ with the query", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestPlayerPageDescribesStream(t *testing.T) {
	hub, base := newServer(t)
	hlstest.Publish(t, hub, "live/a", hlstest.H264Clip(t, 320, 240, 30, 2))
	res, body := get(t, base+"/live/a/")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `data-video-codec="h264"`) ||
		!strings.Contains(body, `src="/static/vendor/hls.js/hls.min.js"`) {
		t.Fatalf("player page of live/a = %d:\n%s", res.StatusCode, body)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Fatalf("player page CSP %q", csp)
	}
	// A page opened with ?jwt= must not send its URL to map tiles.
	if rp := res.Header.Get("Referrer-Policy"); rp != "same-origin" {
		t.Fatalf("player page Referrer-Policy %q", rp)
	}
	tr, _ := gateway.TrackFor(&format.H265{PayloadTyp: 96})
	if _, err := hub.Publish("drone/cam", gateway.SourceInfo{Protocol: "test"}, []*gateway.Track{tr}); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, base+"/drone/cam/"); !strings.Contains(body, `data-video-codec="h265"`) ||
		!strings.Contains(body, `data-bframes="false"`) || !strings.Contains(body, "<title>drone/cam – Skyrelay</title>") {
		t.Fatalf("player page of an H.265 stream:\n%s", body)
	}
	if res, body := get(t, base+"/live/a/"); res.Header.Get("Content-Type") != "text/html; charset=utf-8" || strings.Contains(body, "http://") {
		t.Fatalf("player page must be HTML that names no other site:\n%s", body)
	}
}

func TestStaticFiles(t *testing.T) {
	_, base := newServer(t)
	for _, f := range []struct{ name, ctype string }{
		{"player.js", "text/javascript"},
		{"skyrelay.css", "text/css"},
		{"vendor/hls.js/hls.min.js", "text/javascript"},
		{"vendor/hls.js/LICENSE", ""},
	} {
		res, body := get(t, base+"/static/"+f.name)
		if res.StatusCode != http.StatusOK || len(body) == 0 || !strings.HasPrefix(res.Header.Get("Content-Type"), f.ctype) {
			t.Fatalf("GET /static/%s = %d %s (%d bytes)", f.name, res.StatusCode, res.Header.Get("Content-Type"), len(body))
		}
		etag := res.Header.Get("ETag")
		if res, _ := get(t, base+"/static/"+f.name, "If-None-Match", etag); etag == "" || res.StatusCode != http.StatusNotModified {
			t.Fatalf("revalidating /static/%s with ETag %q = %d, want 304", f.name, etag, res.StatusCode)
		}
	}
	for _, name := range []string{"/static/nope.js", "/static/", "/static/vendor"} {
		res, body := get(t, base+name)
		var msg struct {
			Error struct{ Code string }
		}
		if res.StatusCode != http.StatusNotFound || json.Unmarshal([]byte(body), &msg) != nil || msg.Error.Code != "not_found" {
			t.Fatalf("GET %s = %d %s, want 404 JSON", name, res.StatusCode, body)
		}
	}
	// The HTTP server refuses dot segments before the pages see them.
	if res, _ := get(t, base+"/static/../pages.go"); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("GET /static/../pages.go = %d, want 400", res.StatusCode)
	}
}

// playerProbe reads what the player page says it does, and what the video
// element really shows.
const playerProbe = `(() => { const v = document.getElementById('video');
  return {mode: skyrelay.mode, state: skyrelay.state, reason: skyrelay.reason,
    status: document.getElementById('status').textContent, detail: document.getElementById('detail').textContent,
    frames: v.getVideoPlaybackQuality().totalVideoFrames, width: v.videoWidth}; })()`

// playback is what playerProbe returns.
type playback struct {
	Mode, State, Reason, Status, Detail string
	Frames, Width                       int
}

// Without WHEP (404), the player falls back to LL-HLS, says why, and
// decodes frames.
func TestPlayerFallsBackToLLHLS(t *testing.T) {
	hub, base := newServer(t)
	hlstest.Publish(t, hub, "live/a", hlstest.H264Clip(t, 320, 240, 30, 4))
	shot := filepath.Join(t.TempDir(), "player.png")
	if dir := os.Getenv("SKYRELAY_SCREENSHOTS"); dir != "" {
		shot = filepath.Join(dir, "player.png")
	}
	res := hlstest.Browser(t, hlstest.BrowserRun{
		URL:        base + "/live/a/",
		Probe:      playerProbe,
		Until:      "v.mode === 'hls' && v.state === 'playing' && v.frames >= 60 && v.width === 320",
		Timeout:    25 * time.Second,
		Screenshot: shot,
	})
	var pb playback
	_ = json.Unmarshal(res.Probe, &pb)
	if !res.OK {
		t.Fatalf("player: %+v\n%s", pb, res.Tail(20))
	}
	if !strings.Contains(pb.Reason, "WHEP answered 404") || pb.Status != "playing · LL-HLS" ||
		pb.Detail != "WebRTC failed: "+pb.Reason {
		t.Fatalf("player says %q / %q (reason %q), want LL-HLS playing and the WHEP 404 on its own line", pb.Status, pb.Detail, pb.Reason)
	}
	for _, l := range res.Log {
		if strings.Contains(l, `"pageerror"`) || strings.Contains(l, "Content Security Policy") {
			t.Errorf("browser: %s", l)
		}
	}
	t.Logf("player %+v", pb)
}

// fakeWHEP answers every offer with an SDP no browser accepts, and records
// the DELETE that ends the session.
type fakeWHEP struct{ deleted chan string }

func (f *fakeWHEP) ServePath(w http.ResponseWriter, r *http.Request, path, id string) {
	switch r.Method {
	case http.MethodPost:
		w.Header().Set("Content-Type", "application/sdp")
		w.Header().Set("Location", "/"+path+"/whep/s1")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "v=0\r\nthis is not an answer\r\n")
	case http.MethodDelete:
		f.deleted <- id
		w.WriteHeader(http.StatusOK)
	}
}

// A WHEP answer the browser refuses also sends the player to LL-HLS, and
// the WHEP session is deleted.
func TestPlayerFallsBackWhenWHEPAnswerIsRefused(t *testing.T) {
	whep := &fakeWHEP{deleted: make(chan string, 4)}
	hub, base := newServerWHEP(t, whep, 0)
	hlstest.Publish(t, hub, "live/a", hlstest.H264Clip(t, 320, 240, 30, 4))
	res := hlstest.Browser(t, hlstest.BrowserRun{
		URL:     base + "/live/a/",
		Probe:   playerProbe,
		Until:   "v.mode === 'hls' && v.state === 'playing' && v.frames >= 30",
		Timeout: 25 * time.Second,
	})
	var pb playback
	_ = json.Unmarshal(res.Probe, &pb)
	if !res.OK || !strings.HasPrefix(pb.Reason, "the WHEP answer was refused") {
		t.Fatalf("player: %+v\n%s", pb, res.Tail(20))
	}
	select {
	case id := <-whep.deleted:
		if id != "s1" {
			t.Fatalf("DELETE of session %q, want s1", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the player did not DELETE its WHEP session")
	}
}

// awaitBytesSent waits until path's stream served n bytes to its readers:
// the player is downloading media.
func awaitBytesSent(hub *gateway.Hub, path string, n uint64, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if s := hub.Stream(path); s != nil && s.BytesSent() >= n {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// A new resolution (a DJI live_set_quality, a reconnect with other
// settings) remakes the LL-HLS muxer; the player recovers by itself and
// shows the new size.
func TestPlayerFollowsResolutionChange(t *testing.T) {
	hub, base := newServerWHEP(t, nil, 5*time.Second)
	p := hlstest.Publish(t, hub, "live/a", hlstest.H264Clip(t, 320, 240, 30, 4))
	big := hlstest.H264Clip(t, 640, 360, 30, 4)
	switched := make(chan error, 1)
	go func() {
		if !awaitBytesSent(hub, "live/a", 50_000, 20*time.Second) {
			switched <- errors.New("the player downloaded nothing")
			return
		}
		p.Stop()
		p.Clip = big
		switched <- p.Start()
	}()
	res := hlstest.Browser(t, hlstest.BrowserRun{
		URL:     base + "/live/a/",
		Probe:   playerProbe,
		Until:   "v.width === 640 && v.state === 'playing' && v.frames > 0",
		Timeout: 30 * time.Second,
	})
	var pb playback
	_ = json.Unmarshal(res.Probe, &pb)
	if err := <-switched; err != nil {
		t.Fatal(err)
	}
	if !res.OK || pb.Mode != "hls" {
		t.Fatalf("player after the resolution change: %+v\n%s", pb, res.Tail(20))
	}
}

// With Skyrelay's WHEP server, the player plays WebRTC and says so.
func TestPlayerPlaysWebRTCFirst(t *testing.T) {
	var hub *gateway.Hub
	var rtc *webrtc.Server
	hub, base := newServerWHEP(t, whepOf(func(h *gateway.Hub) gateway.PathHandler {
		rtc = &webrtc.Server{Listen: "127.0.0.1:0", Hub: h, Log: testLog()}
		if err := rtc.Initialize(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rtc.Close)
		return rtc.WHEP()
	}), 0)
	hlstest.Publish(t, hub, "live/a", hlstest.H264Clip(t, 320, 240, 30, 4))
	res := hlstest.Browser(t, hlstest.BrowserRun{
		URL:     base + "/live/a/",
		Probe:   playerProbe,
		Until:   "v.state === 'playing' && v.frames >= 60 && v.width === 320",
		Timeout: 25 * time.Second,
	})
	var pb playback
	_ = json.Unmarshal(res.Probe, &pb)
	if !res.OK || pb.Mode != "webrtc" || pb.Status != "playing · WebRTC" || pb.Reason != "" || pb.Detail != "" {
		t.Fatalf("player: %+v\n%s", pb, res.Tail(20))
	}
	if rtc.WHEPCount() != 1 {
		t.Fatalf("%d WHEP sessions, want 1", rtc.WHEPCount())
	}
}

// historyProbe is playerProbe plus the states the page went through, as
// sampled by the probes.
const historyProbe = `(() => { const v = document.getElementById('video');
  const h = window.__history = window.__history || [];
  const s = skyrelay.state + ' ' + skyrelay.mode;
  if (h[h.length - 1] !== s) h.push(s);
  return {mode: skyrelay.mode, state: skyrelay.state, history: h,
    frames: v.getVideoPlaybackQuality().totalVideoFrames, width: v.videoWidth}; })()`

// When the stream ends under a WebRTC viewer and a publisher starts it
// again, the page notices the dead session and plays the new stream.
func TestPlayerRecoversWhenStreamRestarts(t *testing.T) {
	hub, base := newServerWHEP(t, whepOf(func(h *gateway.Hub) gateway.PathHandler {
		rtc := &webrtc.Server{Listen: "127.0.0.1:0", Hub: h, Log: testLog()}
		if err := rtc.Initialize(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rtc.Close)
		return rtc.WHEP()
	}), 0)
	p := hlstest.Publish(t, hub, "live/a", hlstest.H264Clip(t, 320, 240, 30, 4))
	restarted := make(chan error, 1)
	go func() {
		if !awaitBytesSent(hub, "live/a", 100_000, 20*time.Second) {
			restarted <- errors.New("the player received nothing")
			return
		}
		p.Stop() // grace 0: the stream ends, its viewers with it
		restarted <- p.Start()
	}()
	res := hlstest.Browser(t, hlstest.BrowserRun{
		URL:   base + "/live/a/",
		Probe: historyProbe,
		Until: "v.history.length >= 3 && v.history.indexOf('playing webrtc') < v.history.lastIndexOf('connecting webrtc') && " +
			"v.state === 'playing' && v.mode === 'webrtc' && v.frames > 0",
		Timeout: 30 * time.Second,
	})
	var pb struct {
		Mode, State string
		History     []string
		Frames      int
	}
	_ = json.Unmarshal(res.Probe, &pb)
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("player: %+v\n%s", pb, res.Tail(20))
	}
	t.Logf("states: %q", pb.History)
}

// TestIndexListsCameras: the DJI cameras the control plane knows are
// listed with their state, and a live one says so.
func TestIndexListsCameras(t *testing.T) {
	hub := gateway.NewHub(0, testLog())
	t.Cleanup(hub.Close)
	p := &Pages{Hub: hub, Log: testLog(), Cameras: func() []Camera {
		return []Camera{{VideoID: "SN1/99-0-0/normal-0", Device: "DOCK1", Online: true},
			{VideoID: "SN2/39-0-7/normal-0", Device: "RC2"}}
	}}
	tr, _ := gateway.TrackFor(&format.H264{PayloadTyp: 96})
	if _, err := hub.Publish("SN1/99-0-0/normal-0", gateway.SourceInfo{Protocol: "rtmp"}, []*gateway.Track{tr}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	p.ServePath(rec, httptest.NewRequest("GET", "/", nil), "", "")
	body := rec.Body.String()
	for _, want := range []string{`<tr data-video="SN1/99-0-0/normal-0">`, `<td>DOCK1</td>`, `<td>live</td>`,
		`<tr data-video="SN2/39-0-7/normal-0">`, `<td>offline</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("index lacks %q:\n%s", want, body)
		}
	}
}
