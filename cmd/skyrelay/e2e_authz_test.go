package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway/authz/authztest"
	"github.com/skyrelay/skyrelay/gateway/hls/hlstest"
	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/logscan"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// authHook is a small authorization service: it allows the paths in allow
// and remembers what it was asked.
type authHook struct {
	*httptest.Server
	mu  sync.Mutex
	got []map[string]string
}

func newAuthHook(t *testing.T, allow ...string) *authHook {
	h := &authHook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got = append(h.got, req)
		h.mu.Unlock()
		for _, p := range allow {
			if req["path"] == p {
				return // 200
			}
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *authHook) asked(path, protocol string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.got {
		if r["path"] == path && r["protocol"] == protocol && r["action"] == "read" && r["ip"] == "127.0.0.1" {
			return true
		}
	}
	return false
}

// TestReadAuthorizationEndToEnd: the binary with auth.jwt, auth.hook and
// loopback not trusted (as behind a reverse proxy). curl, ffprobe (LL-HLS,
// RTSP with the token in the query and as the password, RTMP) and Chromium
// (WHEP) read with a token; without one they get 401, with a token for
// another path 403, unless the hook says yes. The API takes a token with
// the api permission. Nothing the test minted reaches the log, /metrics or
// an error body.
func TestReadAuthorizationEndToEnd(t *testing.T) {
	testpeer.Require(t, "ffmpeg", "ffprobe", "curl")
	secret := "e2e-jwt-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	hook := newAuthHook(t, "hooked/cam")
	g := gwproc.StartWith(t, gwproc.Options{LogLevel: "debug",
		Extra: fmt.Sprintf("auth: {jwt: {secret: %q}, hook: {url: %q}, loopback_trusted: false}\n", secret, hook.URL)})
	var secrets logscan.Secrets
	secrets.Add(t, secret)

	readLive := authztest.HS256([]byte(secret), authztest.Claims(time.Hour, authztest.Read("live/*"), nil))
	apiToken := authztest.HS256([]byte(secret), authztest.Claims(time.Hour, []map[string]string{{"action": "api"}}, nil))
	secrets.Add(t, readLive, apiToken)

	clip := testpeer.Clip(t, testpeer.ClipH264Small)
	g.Push(t, clip, "live/a") // loopback may always publish
	g.Push(t, clip, "hooked/cam")
	ready := func(path string) bool {
		return curlStatus(t, g.URL("/api/v1/streams/"+path), "Authorization: Bearer "+apiToken) == 200 &&
			strings.Contains(curlBody(t, g.URL("/api/v1/streams/"+path), "Authorization: Bearer "+apiToken), `"ready":true`)
	}
	eventually(t, 20*time.Second, "both streams to be ready", func() bool { return ready("live/a") && ready("hooked/cam") })

	var bodies []string
	for _, tc := range []struct {
		name, url, header string
		want              int
	}{
		{"API without a token (loopback not trusted)", "/api/v1/streams", "", 401},
		{"API with a read token", "/api/v1/streams", "Authorization: Bearer " + readLive, 403},
		{"API with an api token", "/api/v1/streams", "Authorization: Bearer " + apiToken, 200},
		{"HLS without a token", "/live/a/index.m3u8", "", 401},
		{"HLS with ?jwt=", "/live/a/index.m3u8?jwt=" + readLive, "", 200},
		{"HLS with ?token=", "/live/a/index.m3u8?token=" + readLive, "", 200},
		{"HLS with a bearer token", "/live/a/index.m3u8", "Authorization: Bearer " + readLive, 200},
		{"HLS with a token for another path, hook says no", "/other/x/index.m3u8?jwt=" + readLive, "", 403},
		{"HLS with a forged token", "/live/a/index.m3u8?jwt=" + readLive[:len(readLive)-4] + "AAAA", "", 403},
		{"HLS the hook allows, without a token", "/hooked/cam/index.m3u8", "", 200},
	} {
		code := curlStatus(t, g.URL(tc.url), tc.header)
		if code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, code, tc.want)
		}
		if code >= 400 {
			// Error bodies must not repeat a credential (a playlist may:
			// it repeats the viewer's own query in its URLs).
			bodies = append(bodies, curlBody(t, g.URL(tc.url), tc.header))
		}
	}
	if !hook.asked("hooked/cam", "hls") {
		t.Fatalf("the hook was not asked about hooked/cam over hls: %v", hook.got)
	}

	ctx := testpeer.Context(t, 120*time.Second)
	// LL-HLS: the token in the playlist's query is repeated in every URL
	// the playlist names, so ffprobe reads segments and parts too.
	res := testpeer.FFprobe(t, ctx, g.URL("/live/a/index.m3u8?jwt="+readLive), "-read_intervals", "%+2")
	if v, ok := res.Video(); !ok || v.Packets <= 0 {
		t.Fatalf("ffprobe LL-HLS with ?jwt=: %s", res.JSON)
	}
	rtsp := "rtsp://127.0.0.1:" + strconv.Itoa(g.RTSP) + "/live/a"
	if _, err := testpeer.ProbeURL(ctx, rtsp, "-rtsp_transport", "tcp", "-read_intervals", "%+1"); err == nil {
		t.Fatal("ffprobe read RTSP without a token")
	}
	// The token in the query: ffmpeg cuts a URL's user:password at 128
	// bytes, too short for a token as the password (gateway's unit tests
	// cover that form).
	res = testpeer.FFprobe(t, ctx, rtsp+"?jwt="+readLive, "-rtsp_transport", "tcp", "-read_intervals", "%+2")
	if v, ok := res.Video(); !ok || v.Packets <= 0 {
		t.Fatalf("ffprobe RTSP with ?jwt=: %s", res.JSON)
	}
	rtmp := g.RTMPURL("live/a")
	if _, err := testpeer.ProbeURL(ctx, rtmp, "-read_intervals", "%+1"); err == nil {
		t.Fatal("ffprobe played RTMP without a token")
	}
	res = testpeer.FFprobe(t, ctx, rtmp+"?jwt="+readLive, "-read_intervals", "%+2")
	if v, ok := res.Video(); !ok || v.Packets <= 0 {
		t.Fatalf("ffprobe RTMP with ?jwt=: %s", res.JSON)
	}

	// WHEP in Chromium with the token in the WHEP URL.
	w := playWHEP(t, g.URL("/live/a/whep?jwt="+readLive), 2*time.Second)
	if w.FramesDecoded <= 0 {
		t.Fatalf("Chromium decoded %d frames over WHEP with a token", w.FramesDecoded)
	}
	// The player page passes its ?jwt= on to WHEP (and LL-HLS).
	page := hlstest.Browser(t, hlstest.BrowserRun{URL: g.URL("/live/a/?jwt=" + readLive),
		Probe: `(() => ({mode: skyrelay.mode, state: skyrelay.state,
			frames: document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames}))()`,
		Until:   "v.state === 'playing' && v.frames >= 10",
		Timeout: 40 * time.Second})
	var sky struct {
		Mode, State string
		Frames      int
	}
	if err := json.Unmarshal(page.Probe, &sky); err != nil || !page.OK || sky.Mode != "webrtc" {
		t.Fatalf("the player page with ?jwt=: %s (%v)", page.Probe, err)
	}
	if code := curlStatusPost(t, g.URL("/live/a/whep"), "v=0"); code != 401 {
		t.Fatalf("WHEP without a token: %d, want 401", code)
	}

	secrets.Check(t, "gateway log", g.Log())
	secrets.Check(t, "/metrics", httpGet(t, g.URL("/metrics")))
	for i, b := range bodies {
		secrets.Check(t, "answer "+strconv.Itoa(i), b)
	}
}

// curlStatus GETs u with curl, with one extra header ("" for none).
func curlStatus(t *testing.T, u, header string) int {
	t.Helper()
	args := []string{"-s", "-o", "/dev/null", "-w", "%{http_code}", u}
	if header != "" {
		args = append(args, "-H", header)
	}
	out, _ := testpeer.Command(t, "curl", args...).Output()
	n, _ := strconv.Atoi(string(out))
	return n
}

func curlBody(t *testing.T, u, header string) string {
	t.Helper()
	args := []string{"-s", u}
	if header != "" {
		args = append(args, "-H", header)
	}
	out, _ := testpeer.Command(t, "curl", args...).Output()
	return string(out)
}

func curlStatusPost(t *testing.T, u, body string) int {
	t.Helper()
	out, _ := testpeer.Command(t, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
		"-H", "Content-Type: application/sdp", "--data-binary", body, u).Output()
	n, _ := strconv.Atoi(string(out))
	return n
}
