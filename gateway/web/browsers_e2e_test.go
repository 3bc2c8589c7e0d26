package web_test

// The pages in Firefox and WebKit (Safari's engine), through
// test/browser/pages.mjs: one gateway, one browser start, every page in
// turn. What each browser lacks here is asserted, not skipped: Firefox
// has no H.264 for WebRTC without the OpenH264 plugin it would download
// from the internet, and Debian's WebKitGTK is built without WebRTC, so
// their wall tiles and player must fall back to LL-HLS and really play it.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// pageResult is pages.mjs's answer for one page.
type pageResult struct {
	OK      bool            `json:"ok"`
	Result  json.RawMessage `json:"result"`
	Console []string        `json:"console"`
	Error   string          `json:"error"`
}

// decode reads Evaluate's JSON.stringify(...) value into out.
func (r pageResult) decode(t *testing.T, out any) {
	t.Helper()
	var s string
	if err := json.Unmarshal(r.Result, &s); err != nil {
		t.Fatalf("evaluate: %v: %s", err, r.Result)
	}
	if err := json.Unmarshal([]byte(s), out); err != nil {
		t.Fatalf("evaluate: %v: %s", err, s)
	}
}

// otherBrowser opens every page in one start of browser ("firefox" or
// "webkit"). A page that failed, threw, or logged a console error fails
// the test; the results come back in the order of pages.
func otherBrowser(t *testing.T, browser string, pages []job) []pageResult {
	t.Helper()
	switch browser {
	case "firefox":
		testpeer.Require(t, "node", "firefox-esr", "puppeteer-core")
	default:
		testpeer.Require(t, "node", "WebKitWebDriver", "Xvfb", "MiniBrowser")
	}
	const perPage = 60000
	var res struct {
		OK      bool         `json:"ok"`
		Browser string       `json:"browser"`
		Pages   []pageResult `json:"pages"`
		Error   string       `json:"error"`
	}
	stderr := runNode(t, "pages.mjs", map[string]any{"browser": browser, "pages": pages, "timeoutMs": perPage},
		time.Duration(len(pages))*(perPage+15000)*time.Millisecond+2*time.Minute, &res)
	t.Logf("%s: %s", browser, res.Browser)
	if res.Error != "" || len(res.Pages) != len(pages) {
		t.Fatalf("%s: %s (%d of %d pages done)\nstderr: %s", browser, res.Error, len(res.Pages), len(pages), stderr)
	}
	for i, p := range res.Pages {
		for _, l := range p.Console {
			if strings.HasPrefix(l, "pageerror") || strings.HasPrefix(l, "error") {
				t.Errorf("%s on %s: %s", browser, pages[i].URL, l)
			}
		}
		if !p.OK {
			t.Errorf("%s on %s: %s\nconsole: %s", browser, pages[i].URL, p.Error, strings.Join(p.Console, "\n"))
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return res.Pages
}

func TestPagesInFirefox(t *testing.T) { pagesIn(t, "firefox") }
func TestPagesInWebKit(t *testing.T)  { pagesIn(t, "webkit") }

// pagesIn: the console's buttons start and stop a docksim camera, every
// tile of a 4-tile wall (three RTMP pushes and a DJI camera started on
// demand) decodes frames and keeps decoding, the player plays, the Pilot
// page runs (with a fake JSBridge where the browser lets a script run
// before the page's own), and a recording plays from the timeline.
func pagesIn(t *testing.T, browser string) {
	dir := t.TempDir()
	g := gwproc.Start(t, fmt.Sprintf("record: {enabled: true, dir: %q, segment_duration: 2s, part_duration: 500ms}\n", dir)+
		`pilot: {app_id: "123456", app_key: "k3y", license: "l1c", mqtt_username: rcuser, mqtt_password: rcpass}`+"\n")
	devices(t, g, nil)
	pushLive(t, g, "live/a", "live/b", "live/c")
	shot := func(name string) map[string]any { return map[string]any{"screenshot": shotPath(t, browser+"-"+name)} }
	cam := `[data-video="` + dockCam + `"]`
	pilot := job{URL: g.URL("/pilot/?autostart=1"), InitScript: fakeBridge,
		WaitFor:  `window.skyPilot && (skyPilot.error || (skyPilot.status && skyPilot.status.status === 2))`,
		Evaluate: `JSON.stringify({error: skyPilot.error, state: document.getElementById('ls-state').textContent, steps: document.querySelectorAll('#steps li').length})`}
	if browser == "webkit" {
		// No script runs before the page's own here: the page must say
		// there is no JSBridge and offer nothing to click.
		pilot = job{URL: g.URL("/pilot/"),
			WaitFor:  `window.skyPilot && skyPilot.error && document.querySelectorAll('#steps li').length === 6`,
			Evaluate: `JSON.stringify({error: skyPilot.error, disabled: document.getElementById('go').disabled, steps: document.querySelectorAll('#steps li').length})`}
	}
	// The recordings page needs finished segments of live/a.
	waitSegments(t, g, "live/a", 3)

	res := otherBrowser(t, browser, []job{
		{
			URL: g.URL("/"), Viewport: &viewport{Width: 1280, Height: 800},
			WaitFor: `document.querySelectorAll('.device').length === 2 && document.querySelector('.fig') && document.querySelector('[data-path="live/a"]') && document.querySelector('` + cam + ` button[data-act=start]:not([disabled])')`,
			Actions: []map[string]any{
				click(cam + " button[data-act=start]"),
				waitFor(`document.querySelector('` + cam + `[data-live="1"] button[data-act=stop]')`),
				shot("console.png"),
				click(cam + " button[data-act=stop]"),
				waitFor(`document.querySelector('` + cam + `[data-live="0"] button[data-act=start]:not([disabled])')`),
			},
			Evaluate: `JSON.stringify({width: document.documentElement.scrollWidth, inner: document.documentElement.clientWidth, figures: document.querySelectorAll('.fig').length})`,
		},
		{
			URL: g.URL("/wall?paths=live/a,live/b,live/c," + rcCam + "&osd=1"), Viewport: &viewport{Width: 1280, Height: 720},
			WaitFor: `window.skyWall && skyWall.tiles.length === 4 && skyWall.tiles.every(t => t.state === 'playing' && t.frames > 25)`,
			// A tile's frames are the video element's decoded frames
			// (getVideoPlaybackQuality), counted on across the restarts of
			// that count WebKitGTK makes; its position must move too.
			Actions: []map[string]any{
				waitFor(`(window.__first = skyWall.tiles.map(t => t.frames), window.__t0 = [...document.querySelectorAll('.tile video')].map(v => v.currentTime), true)`),
				waitFor(`skyWall.tiles.every((t, i) => t.frames > __first[i] + 25) && [...document.querySelectorAll('.tile video')].every((v, i) => v.currentTime > __t0[i] + 1 && v.getVideoPlaybackQuality().totalVideoFrames > 0) && document.querySelector('[data-path="` + rcCam + `"] .osd:not([hidden])')`),
				shot("wall.png"),
			},
			Diagnose: `JSON.stringify({tiles: skyWall.tiles.map(t => [t.mode, t.state, t.frames, t.stalled, t.hlsError]), first: window.__first,
				videos: [...document.querySelectorAll('.tile video')].map(v => [v.getVideoPlaybackQuality().totalVideoFrames, v.currentTime, v.readyState])})`,
			Evaluate: `JSON.stringify({first: __first, second: skyWall.tiles.map(t => t.frames),
				modes: skyWall.tiles.map(t => t.mode), reasons: skyWall.tiles.map(t => t.reason), widths: [...document.querySelectorAll('.tile video')].map(v => v.videoWidth),
				badge: document.querySelector('[data-path="live/a"] .tile-badge').textContent, osd: document.querySelector('[data-path="` + rcCam + `"] .osd').textContent})`,
		},
		{
			URL:     g.URL("/live/b/"),
			WaitFor: `window.skyrelay && skyrelay.state === 'playing' && document.getElementById('video').videoWidth === 640`,
			Actions: []map[string]any{
				// Decoded frames counted on across WebKitGTK's restarts of the count.
				waitFor(`(() => { const v = document.getElementById('video'); window.__t0 = v.currentTime; window.__dec = 0; let last = 0;
					setInterval(() => { const f = v.getVideoPlaybackQuality().totalVideoFrames; __dec += f >= last ? f - last : f; last = f; }, 100); return true; })()`),
				waitFor(`document.getElementById('video').currentTime > __t0 + 1 && __dec > 25`),
			},
			Evaluate: `JSON.stringify({status: document.getElementById('status').textContent})`,
		},
		pilot,
		{
			URL:     g.URL("/recordings/?path=live/a"),
			WaitFor: `window.skyRecordings && skyRecordings.segments.length > 0 && document.querySelectorAll('#timeline .tl-seg').length > 0`,
			Actions: []map[string]any{
				click(`#timeline .tl-seg`),
				waitFor(`(() => { const v = document.getElementById('video'); return v.currentTime > 0.5 && v.getVideoPlaybackQuality().totalVideoFrames > 5 })()`),
				waitFor(`(window.__t0 = document.getElementById('video').currentTime, true)`),
				waitFor(`document.getElementById('video').currentTime > __t0 + 1`),
				shot("recordings.png"),
			},
			Evaluate: `JSON.stringify({bars: document.querySelectorAll('#timeline .tl-seg').length, time: document.getElementById('video').currentTime,
				duration: String(document.getElementById('video').duration)})`,
		},
	})

	var console struct{ Width, Inner, Figures int }
	res[0].decode(t, &console)
	if console.Width > console.Inner || console.Figures < 8 {
		t.Errorf("%s console: %d px of content in %d, %d OSD figures", browser, console.Width, console.Inner, console.Figures)
	}

	var wall struct {
		First, Second, Widths []int
		Modes, Reasons        []string
		Badge, OSD            string
	}
	res[1].decode(t, &wall)
	t.Logf("%s wall: frames %v then %v, modes %v, because %q, badge %q", browser, wall.First, wall.Second, wall.Modes, wall.Reasons, wall.Badge)
	for i, m := range wall.Modes {
		// WebRTC's failure is why the tile plays LL-HLS: see the file's
		// comment. The frames are the video element's own count.
		if m != "hls" || wall.Reasons[i] == "" || wall.Widths[i] == 0 {
			t.Errorf("%s wall tile %d: mode %q (WebRTC failed because %q), %d px wide; want LL-HLS after WebRTC failed", browser, i, m, wall.Reasons[i], wall.Widths[i])
		}
	}
	if !strings.Contains(wall.Badge, "LL-HLS") || !strings.Contains(wall.OSD, "Alt") {
		t.Errorf("%s wall: badge %q, telemetry %q", browser, wall.Badge, wall.OSD)
	}

	var player struct{ Status string }
	res[2].decode(t, &player)
	if player.Status != "playing · LL-HLS" {
		t.Errorf("%s player says %q", browser, player.Status)
	}

	var rec struct {
		Bars     int
		Time     float64
		Duration string
	}
	res[4].decode(t, &rec)
	t.Logf("%s recordings: %d bars, playing at %.1f s of %s", browser, rec.Bars, rec.Time, rec.Duration)
	if rec.Bars < 3 {
		t.Errorf("%s recordings timeline draws %d bars, want 3 or more", browser, rec.Bars)
	}
	// The range MP4's header says how long it is: WebKit's controls showed
	// 0:00 when it did not.
	if d, err := strconv.ParseFloat(rec.Duration, 64); err != nil || d < 3 || d < rec.Time {
		t.Errorf("%s recordings: the video's duration is %s s, playing at %.1f s", browser, rec.Duration, rec.Time)
	}

	var pl struct {
		Error, State string
		Steps        int
		Disabled     bool
	}
	res[3].decode(t, &pl)
	if browser == "webkit" {
		if pl.Error == "" || !pl.Disabled || pl.Steps != 6 {
			t.Errorf("webkit pilot page without a JSBridge: error %q, button disabled %v, %d steps", pl.Error, pl.Disabled, pl.Steps)
		}
	} else if pl.Error != "" || pl.State != "live" {
		t.Errorf("%s pilot page: %q, error %q", browser, pl.State, pl.Error)
	}
}

// waitSegments waits until path has at least n recorded segments.
func waitSegments(t *testing.T, g *gwproc.Process, path string, n int) {
	t.Helper()
	var rec struct {
		Segments []struct{} `json:"segments"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if getJSON(g.URL("/api/v1/recordings/"+path), &rec) == nil && len(rec.Segments) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d segments recorded, want %d", path, len(rec.Segments), n)
		}
	}
}
