package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway/authz/authztest"
	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/logscan"
	"github.com/skyrelay/skyrelay/sim"
)

// telTee, run before a page's scripts, wraps fetch: it notes every
// telemetry stream the page opens (window.__telURLs) and counts the
// events each device's SN had in them (window.__telSN).
const telTee = `(() => {
  const f = window.fetch;
  window.__telURLs = []; window.__telSN = {};
  window.fetch = async (u, o) => {
    const url = new URL(String(u), location.href);
    const res = await f(u, o);
    if (url.pathname === '/api/v1/telemetry') {
      __telURLs.push(url.pathname + url.search);
      const r = res.clone().body.getReader();
      const d = new TextDecoder();
      let buf = '';
      (async () => { for (;;) { const { value, done } = await r.read(); if (done) return;
        buf += d.decode(value, { stream: true });
        let i; while ((i = buf.indexOf('\n')) >= 0) { const line = buf.slice(0, i); buf = buf.slice(i + 1);
          const m = /^data: .*?"sn":"([^"]*)"/.exec(line); if (m) __telSN[m[1]] = (__telSN[m[1]] || 0) + 1; } } })();
    }
    return res;
  };
})();`

// TestOverlayWithAReadToken: with auth.jwt on and loopback not trusted,
// the player of a docksim camera opened with a token that may only read
// that path draws the dock's telemetry over the video (its telemetry
// stream asks for ?path= of that camera, which the token is allowed),
// and the page receives no event of another device: not the aircraft
// under the dock, whose telemetry flows meanwhile.
func TestOverlayWithAReadToken(t *testing.T) {
	secret := "overlay-jwt-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	g := gwproc.StartWith(t, gwproc.Options{LogLevel: "debug", Extra: fmt.Sprintf(
		"auth: {jwt: {secret: %q}, loopback_trusted: false}\n", secret)})
	key := []byte(secret)
	operator := authztest.HS256(key, authztest.Claims(time.Hour,
		[]map[string]string{{"action": "api"}}, nil))
	viewer := authztest.HS256(key, authztest.Claims(time.Hour, authztest.Read(dockCam), nil))
	var secrets logscan.Secrets
	secrets.Add(t, secret, operator, viewer)

	ctx, cancel := context.WithCancel(context.Background())
	dock := sim.Dock{Options: sim.Options{Broker: fmt.Sprintf("tcp://127.0.0.1:%d", g.MQTT), OSDInterval: 200 * time.Millisecond, EventInterval: -1}}
	done := make(chan struct{})
	go func() { defer close(done); _ = dock.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// The operator's whole-fleet stream shows both the dock's and the
	// aircraft's telemetry flowing: the viewer not seeing the aircraft's
	// below is the filter's doing.
	fleetTelemetry(ctx, t, g, operator, sim.DefaultDockSN, sim.DefaultDockAircraftSN)

	g.Push(t, smallClip(t), dockCam)
	waitReadyWith(t, g, operator, dockCam)

	var out struct {
		Text string
		URLs []string
		SN   map[string]int
	}
	browser(t, job{
		URL:        g.URL("/" + dockCam + "/?jwt=" + viewer),
		InitScript: telTee,
		// Six events of the dock (track, then an osd every 500 ms) take
		// seconds, in which the aircraft sends as many.
		WaitFor: `window.skyrelay && skyrelay.state === 'playing' && document.querySelector('.osd:not([hidden])') &&
			(__telSN['` + sim.DefaultDockSN + `'] || 0) >= 6`,
		Evaluate: `JSON.stringify({text: document.querySelector('.osd').textContent, urls: __telURLs, sn: __telSN})`,
	}, &out)
	t.Logf("overlay %q; telemetry streams %v; events by device %v", out.Text, out.URLs, out.SN)
	if !strings.Contains(out.Text, "45.0 m") || !strings.Contains(out.Text, "22.579700, 113.937600") {
		t.Errorf("the overlay shows %q, want the dock's altitude (45.0 m) and coordinates", out.Text)
	}
	if len(out.URLs) != 1 || out.URLs[0] != "/api/v1/telemetry?path="+dockCam {
		t.Errorf("telemetry streams opened %v, want one, for ?path=%s", out.URLs, dockCam)
	}
	if len(out.SN) != 1 || out.SN[sim.DefaultDockSN] == 0 {
		t.Errorf("events by device %v: want the dock's only", out.SN)
	}

	// A wall with a tile the token may not read: that tile says so and
	// leaves the page's telemetry stream, and the other tile's overlay
	// shows the dock's figures.
	var wall struct{ Text, Badge string }
	browser(t, job{
		URL: g.URL("/wall?paths=" + dockCam + ",live/x&osd=1&jwt=" + viewer),
		WaitFor: `document.querySelector('[data-path="live/x"] .tile-badge').textContent.includes('not authorized') &&
			(document.querySelector('[data-path="` + dockCam + `"] .osd') || {}).textContent.includes('45.0 m')`,
		Evaluate: `JSON.stringify({text: document.querySelector('[data-path="` + dockCam + `"] .osd').textContent,
			badge: document.querySelector('[data-path="live/x"] .tile-badge').textContent})`,
	}, &wall)
	t.Logf("wall: dock tile overlay %q, live/x says %q", wall.Text, wall.Badge)

	// The same viewer may not ask for the fleet, nor for another path.
	for _, q := range []string{"", "?path=" + sim.DefaultDockAircraftSN + "/99-0-0/normal-0", "?path=" + dockCam + "&path=live/x"} {
		if code, _ := apiGet(g.URL("/api/v1/telemetry"+q), viewer); code != http.StatusForbidden {
			t.Errorf("telemetry%s with the viewer's token: %d, want 403", q, code)
		}
	}
	secrets.Check(t, "gateway log", g.Log())
}

// fleetTelemetry reads GET /api/v1/telemetry with token until each of sns
// has had an osd event with a position.
func fleetTelemetry(ctx context.Context, t *testing.T, g *gwproc.Process, token string, sns ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", g.URL("/api/v1/telemetry"), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("telemetry with the operator's token: %s", res.Status)
	}
	want := map[string]bool{}
	for _, sn := range sns {
		want[sn] = true
	}
	r := bufio.NewReader(res.Body)
	for len(want) > 0 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("telemetry ended before an osd of %v: %v", want, err)
		}
		data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: ")
		if !ok {
			continue
		}
		var ev struct {
			SN  string                     `json:"sn"`
			OSD map[string]json.RawMessage `json:"osd"`
		}
		if json.Unmarshal([]byte(data), &ev) == nil && len(ev.OSD["latitude"]) > 0 {
			delete(want, ev.SN)
		}
	}
}
