package web_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway/authz/authztest"
	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/logscan"
)

// sseTee, run before a page's scripts, wraps fetch: it notes which
// requests carried an Authorization header and counts the "event:" lines
// each event stream delivered to the page (window.__sse by URL path).
const sseTee = `(() => {
  const f = window.fetch;
  window.__sse = {}; window.__bearer = {};
  window.fetch = async (u, o) => {
    const path = new URL(String(u), location.href).pathname;
    const hs = (o && o.headers) || {};
    window.__bearer[path] = typeof hs.Authorization === 'string' && hs.Authorization.startsWith('Bearer ');
    const res = await f(u, o);
    if ((res.headers.get('Content-Type') || '').startsWith('text/event-stream')) {
      const r = res.clone().body.getReader();
      const d = new TextDecoder();
      (async () => { for (;;) { const { value, done } = await r.read(); if (done) return;
        __sse[path] = (__sse[path] || 0) + (d.decode(value, { stream: true }).match(/^event:/mg) || []).length; } })();
    }
    return res;
  };
})();`

// whepReader, polled as a waitFor, opens one WHEP reader on path from the
// page (with the page's token) once, so that a "stream" event (readers
// changed) follows; it is true once the answer is applied.
func whepReader(path string) string {
	return `(window.__pc ? window.__pcDone : (window.__pc = new RTCPeerConnection(), (async () => {
  __pc.addTransceiver('video', { direction: 'recvonly' });
  await __pc.setLocalDescription(await __pc.createOffer());
  const r = await fetch('/` + path + `/whep?jwt=' + Sky.jwt, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: __pc.localDescription.sdp });
  await __pc.setRemoteDescription({ type: 'answer', sdp: await r.text() });
  window.__pcDone = true;
})(), false))`
}

// apiGet GETs u with a bearer token; it returns the status and body.
func apiGet(u, token string) (int, string) {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitReadyWith(t *testing.T, g *gwproc.Process, token, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if code, body := apiGet(g.URL("/api/v1/streams/"+path), token); code == 200 && strings.Contains(body, `"ready":true`) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not ready", path)
}

// TestPagesCarryTheReadToken: with auth.jwt on and loopback not trusted
// (so the browser on loopback needs a token, as a viewer elsewhere would),
// the console opened with ?jwt= lists the streams, receives events over
// its token'd event stream and links to the player, wall and recordings
// with the token; the wall opened with ?jwt= decodes its tile and refuses
// the path its token does not name; the recordings page plays a recorded
// range with a token that may read only that path. Without a token every
// page says "not authorized" in words. No token reaches the log.
func TestPagesCarryTheReadToken(t *testing.T) {
	secret := "pages-jwt-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	dir := t.TempDir()
	g := gwproc.StartWith(t, gwproc.Options{LogLevel: "debug", Extra: fmt.Sprintf(
		"auth: {jwt: {secret: %q}, loopback_trusted: false}\nrecord: {enabled: true, dir: %q, segment_duration: 2s, part_duration: 500ms}\n",
		secret, dir)})
	key := []byte(secret)
	operator := authztest.HS256(key, authztest.Claims(time.Hour,
		[]map[string]string{{"action": "read", "path": "live/*"}, {"action": "api"}}, nil))
	viewerA := authztest.HS256(key, authztest.Claims(time.Hour, authztest.Read("live/a"), nil))
	viewerRec := authztest.HS256(key, authztest.Claims(time.Hour, authztest.Read("rec/x"), nil))
	var secrets logscan.Secrets
	secrets.Add(t, secret, operator, viewerA, viewerRec)

	clip := smallClip(t)
	g.Push(t, clip, "live/a")
	g.Push(t, clip, "live/b")
	rec := g.Push(t, clip, "rec/x")
	for _, p := range []string{"live/a", "live/b", "rec/x"} {
		waitReadyWith(t, g, operator, p)
	}
	// rec/x: three segments recorded, then its publisher stops so that
	// the recording is closed.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := apiGet(g.URL("/api/v1/recordings/rec/x"), viewerRec)
		if strings.Count(body, `"start"`) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rec/x: no 3 segments recorded: %s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = rec.Process.Kill()
	_ = rec.Wait()

	t.Run("console with a token", func(t *testing.T) {
		var out struct {
			Rows                        []string
			Play, Rec, NavWall, NavRecs string
			Bearer                      map[string]bool
			Events                      int
			Banner                      bool
		}
		browser(t, job{
			URL:        g.URL("/?jwt=" + operator),
			InitScript: sseTee,
			WaitFor: `document.querySelector('#streams [data-path="live/a"]') && document.querySelector('#streams [data-path="live/b"]') &&
				document.getElementById('hdr-status').dataset.up === '1'`,
			Actions: []map[string]any{
				waitFor(whepReader("live/a")),
				// The reader changes live/a's readers: a "stream" event
				// reaches the page over /api/v1/events.
				waitFor(`__sse['/api/v1/events'] > 0`),
			},
			Evaluate: `JSON.stringify({rows: [...document.querySelectorAll('#streams .stream')].map(e => e.dataset.path),
				play: document.querySelector('#streams [data-path="live/a"] a.button').getAttribute('href'),
				rec: (document.querySelector('#streams .rec-link') || {getAttribute: () => ''}).getAttribute('href'),
				navWall: document.querySelector('header nav a[data-t="wall"]').getAttribute('href'),
				navRecs: document.querySelector('header nav a[data-t="recordings"]').getAttribute('href'),
				bearer: __bearer, events: __sse['/api/v1/events'], banner: !document.getElementById('banner').hidden})`,
		}, &out)
		t.Logf("console: rows %v, %d events, the play link carries the token: %v", out.Rows, out.Events, strings.Contains(out.Play, "jwt="+operator))
		if !contains(out.Rows, "live/a") || !contains(out.Rows, "live/b") || out.Events <= 0 || out.Banner {
			t.Errorf("console with ?jwt=: rows %v, %d events, banner shown %v", out.Rows, out.Events, out.Banner)
		}
		if !out.Bearer["/api/v1/streams"] || !out.Bearer["/api/v1/events"] {
			t.Errorf("the console's API requests did not all carry the token as a header: %v", out.Bearer)
		}
		for _, l := range []string{out.Play, out.NavWall, out.NavRecs} {
			if !strings.Contains(l, "jwt="+operator) {
				t.Errorf("a link the console builds lacks the token: %q", l)
			}
		}
		if out.Rec != "" && !strings.Contains(out.Rec, "jwt=") {
			t.Errorf("the recordings link lacks the token: %q", out.Rec)
		}
	})

	t.Run("console without a token", func(t *testing.T) {
		var out struct{ Banner string }
		browser(t, job{
			URL:      g.URL("/"),
			WaitFor:  `!document.getElementById('banner').hidden`,
			Evaluate: `JSON.stringify({banner: document.getElementById('banner').textContent})`,
		}, &out)
		if !strings.Contains(out.Banner, "Not authorized: this page needs a token") {
			t.Errorf("console without a token says %q", out.Banner)
		}
	})

	t.Run("wall with a token for one path", func(t *testing.T) {
		var out struct {
			First, Second []int
			States        []string
			Badge         string
		}
		browser(t, job{
			URL:     g.URL("/wall?paths=live/a,live/b&jwt=" + viewerA),
			WaitFor: `window.skyWall && skyWall.tiles.length === 2 && skyWall.tiles[0].state === 'playing' && skyWall.tiles[0].frames > 10 && skyWall.tiles[1].state === 'error'`,
			Actions: []map[string]any{
				waitFor(`(window.__first = skyWall.tiles.map(t => t.frames), true)`),
				waitFor(`skyWall.tiles[0].frames > __first[0] + 25`),
			},
			Evaluate: `JSON.stringify({first: __first, second: skyWall.tiles.map(t => t.frames), states: skyWall.tiles.map(t => t.state),
				badge: document.querySelector('[data-path="live/b"] .tile-badge').textContent})`,
		}, &out)
		t.Logf("wall: frames %v then %v, states %v, live/b says %q", out.First, out.Second, out.States, out.Badge)
		if out.Second[0] <= out.First[0] {
			t.Errorf("live/a's tile does not decode: %v then %v", out.First, out.Second)
		}
		if out.Second[1] != 0 || !strings.Contains(out.Badge, "not authorized: the token does not allow this path") {
			t.Errorf("live/b, which the token does not name: %d frames, badge %q", out.Second[1], out.Badge)
		}
	})

	t.Run("wall without a token", func(t *testing.T) {
		var out struct{ Badge string }
		browser(t, job{
			URL:      g.URL("/wall?paths=live/a"),
			WaitFor:  `window.skyWall && skyWall.tiles.length === 1 && skyWall.tiles[0].state === 'error' && skyWall.tiles[0].hlsError`,
			Evaluate: `JSON.stringify({badge: document.querySelector('[data-path="live/a"] .tile-badge').textContent})`,
		}, &out)
		if !strings.Contains(out.Badge, "not authorized: a token is required") {
			t.Errorf("wall tile without a token says %q", out.Badge)
		}
	})

	t.Run("recordings with a token for the path", func(t *testing.T) {
		var out struct {
			Time0, Time1     float64
			Frames0, Frames1 int
			Src              string
		}
		browser(t, job{
			URL:     g.URL("/recordings/?path=rec/x&jwt=" + viewerRec),
			WaitFor: `window.skyRecordings && skyRecordings.segments.length > 0 && document.querySelectorAll('#timeline .tl-seg').length > 0`,
			Actions: []map[string]any{
				click(`#timeline .tl-seg`),
				waitFor(`(() => { const v = document.getElementById('video'); return v.currentTime > 0.5 && v.getVideoPlaybackQuality().totalVideoFrames > 5 })()`),
				waitFor(`(window.__t0 = document.getElementById('video').currentTime, window.__f0 = document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames, true)`),
				waitFor(`document.getElementById('video').currentTime > __t0 + 1`),
			},
			Evaluate: `JSON.stringify({time0: __t0, time1: document.getElementById('video').currentTime, frames0: __f0,
				frames1: document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames, src: document.getElementById('video').currentSrc})`,
		}, &out)
		t.Logf("recordings: time %.2f → %.2f s, frames %d → %d", out.Time0, out.Time1, out.Frames0, out.Frames1)
		if out.Time1 <= out.Time0 || out.Frames1 <= out.Frames0 || !strings.Contains(out.Src, "jwt=") {
			t.Errorf("the range does not play with the token: %+v", out)
		}
	})

	for _, c := range []struct{ name, url, want string }{
		{"recordings without a token", "/recordings/?path=rec/x", "Not authorized: this page needs a token"},
		{"recordings of a path the token does not name", "/recordings/?path=rec/x&jwt=" + viewerA, "Not authorized: the token does not allow this"},
		{"recordings list with a viewer's token", "/recordings/?jwt=" + viewerRec, "Not authorized: the token does not allow this"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out struct{ Text string }
			browser(t, job{
				URL:      g.URL(c.url),
				WaitFor:  `/Not authorized/.test(document.getElementById('status').textContent + document.getElementById('list').textContent)`,
				Evaluate: `JSON.stringify({text: document.getElementById('status').textContent + document.getElementById('list').textContent})`,
			}, &out)
			if !strings.Contains(out.Text, c.want) {
				t.Errorf("%s says %q", c.url, out.Text)
			}
		})
	}

	t.Run("player of a path the token does not name", func(t *testing.T) {
		var out struct{ Status, State string }
		browser(t, job{
			URL:      g.URL("/live/b/?jwt=" + viewerA),
			WaitFor:  `window.skyrelay && skyrelay.state === 'error' && /not authorized/.test(document.getElementById('status').textContent)`,
			Evaluate: `JSON.stringify({status: document.getElementById('status').textContent, state: skyrelay.state})`,
		}, &out)
		if !strings.Contains(out.Status, "the token does not allow this path") {
			t.Errorf("player of live/b with a token for live/a says %q", out.Status)
		}
	})

	secrets.Check(t, "gateway log", g.Log())
}
