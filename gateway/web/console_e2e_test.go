package web_test

// The pages against the real binary: skyrelay built from this tree
// (internal/gwproc), simulated DJI devices on its embedded broker (sim, as
// cmd/docksim runs them), ffmpeg RTMP pushes, and headless Chromium
// clicking as an operator would (test/browser/run.mjs). Set
// SKYRELAY_SCREENSHOTS=dir to keep the screenshots.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
	"github.com/skyrelay/skyrelay/sim"
)

// job is one run of test/browser/run.mjs, with the fields the pages'
// tests add to testpeer.BrowserJob: a viewport, a script run before the
// page's own, and clicks and screenshots in order.
type job struct {
	URL        string           `json:"url"`
	Viewport   *viewport        `json:"viewport,omitempty"`
	Device     *device          `json:"device,omitempty"` // touch emulation (Chromium only)
	InitScript string           `json:"initScript,omitempty"`
	WaitFor    string           `json:"waitFor,omitempty"`
	Actions    []map[string]any `json:"actions,omitempty"`
	Evaluate   string           `json:"evaluate,omitempty"`
	Diagnose   string           `json:"diagnose,omitempty"` // pages.mjs: evaluated when the page failed
	TimeoutMs  int              `json:"timeoutMs,omitempty"`
	Screenshot string           `json:"screenshot,omitempty"`
}

type viewport struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

var phone = &viewport{Width: 420, Height: 860}

func click(sel string) map[string]any   { return map[string]any{"click": sel} }
func waitFor(js string) map[string]any  { return map[string]any{"waitFor": js} }
func resize(v *viewport) map[string]any { return map[string]any{"viewport": v} }
func shot(path string) map[string]any {
	return map[string]any{"screenshot": path, "fullPage": true}
}

// shotPath is where a screenshot goes: $SKYRELAY_SCREENSHOTS or the test's
// temporary folder.
func shotPath(t *testing.T, name string) string {
	if dir := os.Getenv("SKYRELAY_SCREENSHOTS"); dir != "" {
		return filepath.Join(dir, name)
	}
	return filepath.Join(t.TempDir(), name)
}

// browser runs j and fails the test unless the page did all of it; it
// returns Evaluate's value decoded into out.
func browser(t *testing.T, j job, out any) {
	t.Helper()
	testpeer.Require(t, "node", "chromium", "playwright-core")
	if j.TimeoutMs == 0 {
		j.TimeoutMs = 60000
	}
	var res struct {
		OK      bool            `json:"ok"`
		Result  json.RawMessage `json:"result"`
		Console []string        `json:"console"`
		Error   string          `json:"error"`
	}
	runNode(t, "run.mjs", j, time.Duration(j.TimeoutMs)*time.Millisecond+60*time.Second, &res)
	for _, l := range res.Console {
		if strings.HasPrefix(l, "pageerror") || strings.Contains(l, "Content Security Policy") {
			t.Errorf("browser on %s: %s", j.URL, l)
		}
	}
	if !res.OK {
		t.Fatalf("browser on %s: %s\nconsole: %s", j.URL, res.Error, strings.Join(res.Console, "\n"))
	}
	if out != nil && len(res.Result) > 0 {
		var s string
		// Evaluate returns JSON.stringify(...) so that any value passes.
		if err := json.Unmarshal(res.Result, &s); err != nil {
			t.Fatalf("evaluate: %v: %s", err, res.Result)
		}
		if err := json.Unmarshal([]byte(s), out); err != nil {
			t.Fatalf("evaluate: %v: %s", err, s)
		}
	}
}

// runNode runs a script of test/browser with job as JSON on its stdin,
// for at most timeout, and decodes the last line it prints into res.
func runNode(t *testing.T, script string, job any, timeout time.Duration, res any) (stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	in, _ := json.Marshal(job)
	cmd := exec.CommandContext(ctx, "node", filepath.Join(gwproc.Root(), "test", "browser", script))
	cmd.Dir = filepath.Join(gwproc.Root(), "test", "browser")
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second // a browser's own shutdown
	_ = cmd.Run()
	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	if err := json.Unmarshal(lines[len(lines)-1], res); err != nil {
		t.Fatalf("%s: %v\nstdout: %s\nstderr: %s", script, err, out.String(), errb.String())
	}
	return errb.String()
}

// pushLive publishes the small clip on every path with ffmpeg and waits
// until each is ready.
func pushLive(t *testing.T, g *gwproc.Process, paths ...string) {
	t.Helper()
	clip := smallClip(t)
	for _, p := range paths {
		g.Push(t, clip, p)
	}
	for _, p := range paths {
		g.WaitReady(t, p, 15*time.Second)
	}
}

// devices runs the simulated Dock 3 and RC Plus 2 on g's broker until the
// test ends, and waits until the control plane lists both with cameras.
func devices(t *testing.T, g *gwproc.Process, dockFaults *sim.Faults) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	opts := func(f *sim.Faults) sim.Options {
		return sim.Options{Broker: fmt.Sprintf("tcp://127.0.0.1:%d", g.MQTT), OSDInterval: 500 * time.Millisecond,
			EventInterval: -1, Faults: f}
	}
	wg.Add(2)
	go func() { defer wg.Done(); _ = sim.Dock{Options: opts(dockFaults)}.Run(ctx) }()
	go func() { defer wg.Done(); _ = sim.RC{Options: opts(nil)}.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var list struct {
			Items []struct {
				Online  bool `json:"online"`
				Cameras []any
			} `json:"items"`
		}
		if getJSON(g.URL("/api/v1/devices"), &list) == nil && len(list.Items) == 2 &&
			list.Items[0].Online && list.Items[1].Online && len(list.Items[0].Cameras) > 0 && len(list.Items[1].Cameras) > 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the simulated dock and RC did not come online with their cameras")
}

// smallClip is a 640x360 25 fps H.264 clip (keyframe every second) for
// the RTMP pushes: light enough for four at once on a shared machine.
func smallClip(t *testing.T) string {
	t.Helper()
	testpeer.Require(t, "ffmpeg")
	p := filepath.Join(t.TempDir(), "clip.mp4")
	out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "6",
		"-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "0", "-pix_fmt", "yuv420p", p).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return p
}

const (
	dockCam = sim.DefaultDockSN + "/165-0-7/normal-0"
	rcCam   = sim.DefaultRCAircraftSN + "/89-0-0/normal-0"
)

// TestConsoleButtonsStartAndStopACamera: the console lists both simulated
// gateways with their aircraft and OSD figures, its Start button really
// starts the dock camera's push (the session's step shows meanwhile), Stop
// really stops it, a device refusal shows decoded on its own line, and
// the page fits 420 px without sideways scrolling.
func TestConsoleButtonsStartAndStopACamera(t *testing.T) {
	g := gwproc.Start(t, "")
	faults := sim.NewFaults()
	devices(t, g, faults)
	clip := smallClip(t)
	g.Push(t, clip, "live/cam1")
	// A Pilot push from the simulated RC: the row says whose it is.
	pilotPath := "pilot/" + sim.DefaultRCSN
	g.Push(t, clip, pilotPath)
	// A slow dock: the step "asked the device" must show while it thinks.
	faults.Inject(sim.Injection{ReplyDelay: sim.Duration(1500 * time.Millisecond)})

	cam := `[data-video="` + dockCam + `"]`
	var out struct {
		Steps      []string            `json:"steps"`
		Width      int                 `json:"width"`
		Figures    int                 `json:"figures"`
		StreamRows []string            `json:"streams"`
		Error      string              `json:"error"`
		Layouts    map[string][]string `json:"layouts"`
		Wall       string              `json:"wall"`
		Pilot      []string            `json:"pilot"`
	}
	pilotRow := `[data-path="` + pilotPath + `"]`
	browser(t, job{
		URL:     g.URL("/"),
		WaitFor: `document.querySelectorAll('.device').length === 2 && document.querySelector('.fig') && document.querySelector('[data-path="live/cam1"]') && document.querySelector('` + pilotRow + ` .tag') && document.querySelector('` + cam + ` button[data-act=start]:not([disabled])')`,
		Actions: []map[string]any{
			// Record every step the camera row shows, as the operator sees it.
			waitFor(`(window.__steps = [], setInterval(() => { const r = document.querySelector('` + cam + `'); const s = r && r.dataset.step; if (s && __steps[__steps.length-1] !== s) __steps.push(s); }, 50), true)`),
			shot(shotPath(t, "console.png")),
			click(cam + " button[data-act=start]"),
			waitFor(`document.querySelector('` + cam + ` .step')`),
			shot(shotPath(t, "console-starting.png")),
			waitFor(`document.querySelector('` + cam + `[data-live="1"] button[data-act=stop]')`),
			shot(shotPath(t, "console-live.png")),
			resize(phone),
			shot(shotPath(t, "console-420.png")),
			click(cam + " button[data-act=stop]"),
			waitFor(`document.querySelector('` + cam + `[data-live="0"] button[data-act=start]:not([disabled])')`),
			// A named wall layout from two picks.
			click(`[data-path="live/cam1"] .wallpick input`),
			click(cam + ` .wallpick input`),
			waitFor(`(document.querySelector('#layouts input[type=text]').value = 'Ops', true)`),
			click(`#save-layout`),
			waitFor(`document.querySelector('ul.layouts a')`),
		},
		Evaluate: `JSON.stringify({steps: window.__steps, width: document.documentElement.scrollWidth,
			layouts: JSON.parse(localStorage.getItem('skyrelay.layouts')), wall: document.querySelector('ul.layouts a').getAttribute('href'),
			figures: document.querySelectorAll('.fig').length,
			pilot: [...document.querySelectorAll('` + pilotRow + ` .tag, ` + pilotRow + ` .muted.small')].map(e => e.textContent),
			streams: [...document.querySelectorAll('.stream')].map(e => e.dataset.path)})`,
	}, &out)
	if fmt.Sprint(out.Pilot) != "[Pilot Matrice 4T · DJI RC Plus 2]" {
		t.Errorf("the Pilot push's row names %q, want the tag Pilot and the aircraft under the controller", out.Pilot)
	}
	if !contains(out.Steps, "sent") || !contains(out.Steps, "playable") {
		t.Errorf("the camera row showed the steps %q, want sent ... playable", out.Steps)
	}
	if out.Width > 420 {
		t.Errorf("at 420 px the console is %d px wide", out.Width)
	}
	if out.Figures < 8 || !contains(out.StreamRows, "live/cam1") {
		t.Errorf("console shows %d OSD figures and the streams %q", out.Figures, out.StreamRows)
	}
	if fmt.Sprint(out.Layouts["Ops"]) != "[live/cam1 "+dockCam+"]" ||
		out.Wall != "/wall?paths=live/cam1,"+dockCam+"&layout=4&osd=1" {
		t.Errorf("saved layouts %v, wall link %q", out.Layouts, out.Wall)
	}
	// The push really ended at the device: no stream left on the path.
	waitGone(t, g, dockCam)

	// A refusal: the device's code, origin and meaning, on their own line.
	faults.Inject(sim.Injection{Clear: true, StartPushCode: 513003})
	browser(t, job{
		URL:     g.URL("/"),
		WaitFor: `document.querySelector('` + cam + ` button[data-act=start]:not([disabled])')`,
		Actions: []map[string]any{
			click(cam + " button[data-act=start]"),
			waitFor(`document.querySelector('` + cam + ` .error')`),
			shot(shotPath(t, "console-device-error.png")),
		},
		Evaluate: `JSON.stringify({error: document.querySelector('` + cam + ` .error').textContent})`,
	}, &out)
	if !strings.Contains(out.Error, "513003") || !strings.Contains(out.Error, "dock") || len(out.Error) > 160 {
		t.Errorf("the refusal reads %q, want the code and the dock, in one short line", out.Error)
	}
}

// TestConsoleLensAndQuality: on a live camera the lens list comes from
// switchable_video_types, and choosing a lens or a quality really changes
// them at the device.
func TestConsoleLensAndQuality(t *testing.T) {
	g := gwproc.Start(t, "")
	devices(t, g, nil)
	vid := sim.DefaultDockAircraftSN + "/99-0-0/normal-0"
	cam := `[data-video="` + vid + `"]`
	var out struct {
		Lenses []string `json:"lenses"`
		Label  string   `json:"label"`
	}
	browser(t, job{
		URL:     g.URL("/"),
		WaitFor: `document.querySelector('` + cam + ` button[data-act=start]:not([disabled])')`,
		Actions: []map[string]any{
			click(cam + " button[data-act=start]"),
			waitFor(`document.querySelector('` + cam + `[data-live="1"] select[aria-label=Lens]:not([disabled])')`),
			waitFor(`(window.__lenses = [...document.querySelector('` + cam + ` select[aria-label=Lens]').options].map(o => o.value), true)`),
			waitFor(`(() => { const s = document.querySelector('` + cam + ` select[aria-label=Lens]'); s.value = 'zoom'; s.dispatchEvent(new Event('change')); return true; })()`),
			waitFor(`document.querySelector('` + cam + ` .cam-name').textContent.includes('zoom') && !document.querySelector('` + cam + ` .error')`),
			waitFor(`(() => { const s = document.querySelector('` + cam + ` select[aria-label=Quality]'); if (s.disabled) return false; s.value = '3'; s.dispatchEvent(new Event('change')); return true; })()`),
		},
		Evaluate: `JSON.stringify({lenses: __lenses, label: document.querySelector('` + cam + ` .cam-name').textContent})`,
	}, &out)
	if fmt.Sprint(out.Lenses) != "[normal wide zoom ir]" {
		t.Errorf("lens choices %v", out.Lenses)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var dev struct {
			LiveStatus []struct {
				VideoID      string `json:"video_id"`
				VideoType    string `json:"video_type"`
				VideoQuality int    `json:"video_quality"`
			} `json:"live_status"`
		}
		if getJSON(g.URL("/api/v1/devices/"+sim.DefaultDockSN), &dev) == nil {
			for _, l := range dev.LiveStatus {
				if l.VideoID == vid && l.VideoType == "zoom" && l.VideoQuality == 3 {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the device never reported lens zoom and quality 3: %+v (page: %+v)", dev.LiveStatus, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func waitGone(t *testing.T, g *gwproc.Process, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var s struct{}
		if getJSON(g.URL("/api/v1/streams/"+path), &s) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the stream %s is still there after Stop", path)
}

// TestWallDecodesEveryTile: a 4-tile wall of three RTMP pushes and a DJI
// camera started on demand decodes frames in every tile, keeps decoding,
// shows fps and bitrate, and draws the aircraft's telemetry on the DJI
// tile; the layout comes from the URL.
func TestWallDecodesEveryTile(t *testing.T) {
	g := gwproc.Start(t, "")
	devices(t, g, nil)
	pushLive(t, g, "live/a", "live/b", "live/c")
	var out struct {
		First, Second []int
		Modes         []string
		Cells         int
		OSD           string
		Badge         string
	}
	browser(t, job{
		URL:      g.URL("/wall?paths=live/a,live/b,live/c," + rcCam + "&osd=1"),
		Viewport: &viewport{Width: 1280, Height: 720},
		WaitFor:  `window.skyWall && skyWall.tiles.length === 4 && skyWall.tiles.every(t => t.state === 'playing' && t.frames > 25)`,
		Actions: []map[string]any{
			waitFor(`(window.__first = skyWall.tiles.map(t => t.frames), true)`),
			waitFor(`skyWall.tiles.every((t, i) => t.frames > __first[i] + 25) && document.querySelector('[data-path="` + rcCam + `"] .osd:not([hidden])')`),
			shot(shotPath(t, "wall-4.png")),
			resize(phone),
			shot(shotPath(t, "wall-420.png")),
		},
		Evaluate: `JSON.stringify({first: __first, second: skyWall.tiles.map(t => t.frames), modes: skyWall.tiles.map(t => t.mode),
			cells: document.querySelectorAll('.tile').length,
			osd: document.querySelector('[data-path="` + rcCam + `"] .osd').textContent,
			badge: document.querySelector('[data-path="live/a"] .tile-badge').textContent})`,
	}, &out)
	t.Logf("wall: frames %v then %v, modes %v, badge %q, telemetry %q", out.First, out.Second, out.Modes, out.Badge, out.OSD)
	if out.Cells != 4 || !strings.Contains(out.Badge, "fps") || !strings.Contains(out.OSD, "Alt") {
		t.Errorf("wall: %d cells, badge %q, telemetry %q", out.Cells, out.Badge, out.OSD)
	}
}

// fakeBridge stands in for Pilot 2's window.djiBridge: it records every
// call, answers in JSBridge's string-in-string form, calls the thing
// connect callback and reports "live" after the RTMP config is set.
const fakeBridge = `(() => {
  const calls = window.__calls = [];
  const ok = (data) => JSON.stringify({ code: 0, message: 'success', data });
  let status = { type: 2, status: 1 };
  let cb = '';
  const fire = () => { if (cb && window[cb]) window[cb](JSON.stringify(status)); };
  window.djiBridge = {
    platformGetRemoteControllerSN() { calls.push(['platformGetRemoteControllerSN']); return ok(window.__rcSN || 'RCP2SIM00000001'); },
    platformIsVerified() { calls.push(['platformIsVerified']); return ok(false); },
    platformVerifyLicense(a, b, c) { calls.push(['platformVerifyLicense', a, b, c]); return ok(true); },
    platformLoadComponent(name, params) {
      calls.push(['platformLoadComponent', name, params]);
      const p = JSON.parse(params);
      if (name === 'thing') setTimeout(() => window[p.connectCallback](true), 200);
      if (name === 'liveshare') cb = p.statusCallback;
      return ok(true);
    },
    thingGetConnectState() { return ok(false); },
    // As after a reload: thing is still loaded from the previous page.
    platformIsComponentLoaded(name) { return ok(name === 'thing' && !window.__unloaded); },
    platformUnloadComponent(name) { calls.push(['platformUnloadComponent', name]); window.__unloaded = true; return ok(true); },
    liveshareSetStatusCallback(name) { calls.push(['liveshareSetStatusCallback', name]); cb = name; return ok(true); },
    liveshareSetConfig(type, params) {
      calls.push(['liveshareSetConfig', type, params]);
      setTimeout(() => { status = { type: 2, status: 2, fps: 30, videoBitRate: 2950, rtt: 38, quality: 3 }; fire(); }, 200);
      return ok(true);
    },
    liveshareStartLive() { calls.push(['liveshareStartLive']); return ok(true); },
    liveshareStopLive() { calls.push(['liveshareStopLive']); return ok(true); },
    liveshareGetStatus() { return ok(JSON.stringify(status)); },
  };
})();`

// TestPilotPageDrivesTheBridge: /pilot/?autostart=1 verifies the licence
// from pilot.*, loads thing with the broker and the account that may act
// for this RC, loads liveshare only after the connect callback, and sets
// the RTMP config to a URL of this gateway with a per-push secret; it
// shows the status object. A controller no account names gets one minted
// for it by the embedded broker.
func TestPilotPageDrivesTheBridge(t *testing.T) {
	// The account comes from pilot.mqtt_* here (gwproc writes the mqtt:
	// section itself); picking the mqtt.embedded.users account that names
	// the RC is TestPilotSessionAPI's.
	g := gwproc.Start(t, `pilot: {app_id: "123456", app_key: "k3y", license: "l1c", mqtt_username: rcuser, mqtt_password: rcpass}`+"\n")
	var out struct {
		Calls  [][]any `json:"calls"`
		Status string  `json:"status"`
		Error  string  `json:"error"`
	}
	browser(t, job{
		URL:        g.URL("/pilot/?autostart=1"),
		InitScript: fakeBridge,
		WaitFor:    `window.skyPilot && skyPilot.status && skyPilot.status.status === 2`,
		Actions:    []map[string]any{shot(shotPath(t, "pilot.png")), resize(phone), shot(shotPath(t, "pilot-420.png"))},
		Evaluate:   `JSON.stringify({calls: __calls, status: document.getElementById('ls-state').textContent, error: skyPilot.error})`,
	}, &out)
	var names []string
	for _, c := range out.Calls {
		names = append(names, fmt.Sprint(c[0]))
	}
	want := []string{"platformGetRemoteControllerSN", "platformIsVerified", "platformVerifyLicense", "platformUnloadComponent",
		"platformLoadComponent", "platformLoadComponent", "liveshareSetStatusCallback", "liveshareSetConfig", "liveshareStartLive"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("bridge calls %q, want %q", names, want)
	}
	if fmt.Sprint(out.Calls[2][1:]) != "[123456 k3y l1c]" {
		t.Errorf("platformVerifyLicense%v", out.Calls[2][1:])
	}
	var thing struct{ Host, Username, Password, ConnectCallback string }
	_ = json.Unmarshal([]byte(out.Calls[4][2].(string)), &thing)
	if out.Calls[3][1] != "thing" || out.Calls[4][1] != "thing" || thing.Host != fmt.Sprintf("tcp://127.0.0.1:%d", g.MQTT) ||
		thing.Username != "rcuser" || thing.Password != "rcpass" || thing.ConnectCallback == "" {
		t.Errorf("thing unloaded and loaded with %v, %v", out.Calls[3], out.Calls[4])
	}
	if out.Calls[5][1] != "liveshare" {
		t.Errorf("second component %v, want liveshare", out.Calls[5])
	}
	var cfg struct{ URL string }
	_ = json.Unmarshal([]byte(out.Calls[7][2].(string)), &cfg)
	prefix := fmt.Sprintf("rtmp://127.0.0.1:%d/pilot/RCP2SIM00000001?secret=", g.RTMP)
	if out.Calls[7][1] != float64(2) || !strings.HasPrefix(cfg.URL, prefix) || len(cfg.URL) < len(prefix)+16 {
		t.Errorf("liveshareSetConfig%v", out.Calls[7][1:])
	}
	if out.Status != "live" || out.Error != "" {
		t.Errorf("page shows %q, error %q", out.Status, out.Error)
	}

	// With no account for this RC, the embedded broker mints one that
	// reaches only its topics.
	g = gwproc.Start(t, `pilot: {app_id: "123456", app_key: "k3y", license: "l1c"}`+"\n")
	browser(t, job{
		URL:        g.URL("/pilot/?autostart=1"),
		InitScript: "window.__rcSN = 'RCNOACCOUNT01';" + fakeBridge,
		WaitFor:    `window.skyPilot && (skyPilot.error || (skyPilot.status && skyPilot.status.status === 2))`,
		Actions:    []map[string]any{shot(shotPath(t, "pilot-minted.png"))},
		Evaluate:   `JSON.stringify({error: skyPilot.error, calls: __calls})`,
	}, &out)
	thing = struct{ Host, Username, Password, ConnectCallback string }{}
	for _, c := range out.Calls {
		if len(c) > 2 && c[0] == "platformLoadComponent" && c[1] == "thing" {
			_ = json.Unmarshal([]byte(c[2].(string)), &thing)
		}
	}
	if out.Error != "" || !strings.HasPrefix(thing.Username, "pilot-RCNOACCOUNT01-") || len(thing.Password) < 16 {
		t.Errorf("an RC without a configured account: error %q, thing account %q", out.Error, thing.Username)
	}
}

// TestUnknownPathAndDJIPlayer: a path nobody publishes is a 404 page with
// the configured RTMP address (no spinning player, no DJI wording), that
// turns into the player when the stream comes; a DJI camera's player
// shows the session's step while the device starts, then plays.
func TestUnknownPathAndDJIPlayer(t *testing.T) {
	g := gwproc.Start(t, "")
	faults := sim.NewFaults()
	devices(t, g, faults)
	// WHEP on a plain path nobody published: 404 in plain words, not a
	// 502 about live_capacity (the on-demand start only concerns DJI
	// video_ids).
	res, err := http.Post(g.URL("/live/nothing/whep"), "application/sdp", strings.NewReader(offerSDP))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 404 || strings.Contains(string(b), "capacity") || !strings.Contains(string(b), "no stream on path live/nothing") {
		t.Fatalf("WHEP on an unpublished path: %d %s", res.StatusCode, b)
	}
	clip := smallClip(t)
	var out struct {
		Status string `json:"status"`
	}
	// The push starts once the 404 page has been checked and shot (the
	// screenshot file appearing is the signal); the page must then turn
	// into the player by itself.
	noStream := shotPath(t, "nostream.png")
	_ = os.Remove(noStream)
	push := exec.Command("ffmpeg", "-v", "error", "-re", "-stream_loop", "-1", "-i", clip, "-c", "copy", "-f", "flv", g.RTMPURL("live/later"))
	pushed := make(chan error, 1)
	t.Cleanup(func() {
		if push.Process != nil {
			_ = push.Process.Kill()
			_ = push.Wait()
		}
	})
	go func() {
		for end := time.Now().Add(90 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if _, err := os.Stat(noStream); err == nil {
				pushed <- push.Start()
				return
			}
		}
		pushed <- fmt.Errorf("the no-stream page was never shot")
	}()
	hint := fmt.Sprintf("rtmp://127.0.0.1:%d/live/later", g.RTMP)
	browser(t, job{
		URL:     g.URL("/live/later/"),
		WaitFor: `document.getElementById('lead') && document.getElementById('lead').textContent.includes('live/later') && document.querySelector('pre').textContent.includes('` + hint + `')`,
		Actions: []map[string]any{
			shot(noStream),
			waitFor(`window.skyrelay && skyrelay.state === 'playing' && document.getElementById('video').videoWidth === 640`),
		},
		Evaluate: `JSON.stringify({status: document.getElementById('status').textContent})`,
	}, &out)
	if err := <-pushed; err != nil {
		t.Fatal(err)
	}
	if out.Status != "playing · WebRTC" {
		t.Errorf("after the stream came the page says %q", out.Status)
	}

	faults.Inject(sim.Injection{ReplyDelay: sim.Duration(2 * time.Second)})
	browser(t, job{
		URL:     g.URL("/" + dockCam + "/"),
		WaitFor: `window.skyrelay && skyrelay.step === 'sent' && document.getElementById('status').textContent === 'asked the device'`,
		Actions: []map[string]any{
			shot(shotPath(t, "player-dji-asked.png")),
			waitFor(`skyrelay.state === 'playing' && document.getElementById('video').videoWidth > 0`),
			waitFor(`document.querySelector('.osd:not([hidden])')`),
			shot(shotPath(t, "player-dji.png")),
			resize(phone),
			shot(shotPath(t, "player-420.png")),
		},
		Evaluate: `JSON.stringify({status: document.getElementById('status').textContent})`,
	}, &out)
	if !strings.HasPrefix(out.Status, "playing") {
		t.Errorf("the DJI player says %q", out.Status)
	}
}

// offerSDP is a minimal recvonly H.264 WHEP offer.
const offerSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
	"a=setup:actpass\r\na=rtcp-mux\r\na=rtpmap:96 H264/90000\r\n" +
	"a=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"

// getJSON decodes a 200 answer of url into out; anything else is an error.
func getJSON(url string, out any) error {
	res, err := http.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(out)
}
