package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
	"github.com/skyrelay/skyrelay/sim"
)

// liveAnswer is the body of POST /api/v1/live, or its error.
type liveAnswer struct {
	VideoID  string `json:"video_id"`
	Path     string `json:"path"`
	Protocol string `json:"protocol"`
	Play     struct {
		WHEP, HLS, RTSP, Page string
	} `json:"play"`
	Error struct {
		Code       string `json:"code"`
		DeviceCode int    `json:"device_code"`
		Source     string `json:"source"`
		Message    string `json:"message"`
	} `json:"error"`
}

// startDock runs a simulated Dock 3 against the gateway's embedded broker
// and waits until the gateway lists it online with its cameras.
func startDock(t *testing.T, g *gwproc.Process, faults *sim.Faults) sim.Dock {
	t.Helper()
	return startDockWith(t, g, sim.Options{Faults: faults, EventInterval: -1})
}

// TestDockLiveToBrowser is the whole DJI promise: a (simulated) Dock 3 on
// the embedded broker, one POST /api/v1/live, and Chromium decodes the
// drone's camera over WHEP; DELETE stops the push.
func TestDockLiveToBrowser(t *testing.T) {
	testpeer.Require(t, "ffprobe")
	g := gwproc.Start(t, "")
	d := startDock(t, g, nil)
	video := d.VideoIDs()[1] // the aircraft's camera
	if page := httpGet(t, g.URL("/")); !strings.Contains(page, `<tr data-video="`+video+`">`) {
		t.Fatalf("the index does not offer the dock's camera %s:\n%s", video, page)
	}

	var a liveAnswer
	code := call(t, g, "POST", "/api/v1/live", fmt.Sprintf(`{"video_id":%q,"protocol":"rtmp"}`, video), &a)
	if code != 201 || a.Path != video || !strings.HasSuffix(a.Play.WHEP, "/"+video+"/whep") {
		t.Fatalf("POST /api/v1/live: %d %+v", code, a)
	}
	if code := call(t, g, "POST", "/api/v1/live", fmt.Sprintf(`{"video_id":%q}`, video), nil); code != 200 {
		t.Fatalf("starting a live video again answered %d, want 200", code)
	}
	r := playWHEP(t, a.Play.WHEP, 2*time.Second)
	t.Logf("Chromium on the dock's video: %+v", r)
	if r.FramesDecoded < 30 || r.FPS < 20 {
		t.Fatalf("Chromium decoded %d frames at %.1f fps", r.FramesDecoded, r.FPS)
	}
	ctx := testpeer.Context(t, 30*time.Second)
	if v, ok := testpeer.FFprobe(t, ctx, a.Play.RTSP, "-rtsp_transport", "tcp").Video(); !ok || v.Codec != "h264" {
		t.Fatalf("RTSP read of the dock's video: %+v", v)
	}

	if code := call(t, g, "DELETE", "/api/v1/live/"+video, "", nil); code != 204 {
		t.Fatalf("DELETE answered %d", code)
	}
	eventually(t, 20*time.Second, "the push to end", func() bool {
		return call(t, g, "GET", "/api/v1/streams/"+video, "", nil) == 404
	})
}

// TestDockRefusal: a device refusal reaches the API as a 502 naming the
// code, its source and a decoded message; bad requests are 400 and 404.
func TestDockRefusal(t *testing.T) {
	g := gwproc.Start(t, "")
	faults := sim.NewFaults()
	d := startDock(t, g, faults)
	video := d.VideoIDs()[0]

	faults.Inject(sim.Injection{StartPushCode: 513003})
	var a liveAnswer
	code := call(t, g, "POST", "/api/v1/live", fmt.Sprintf(`{"video_id":%q}`, video), &a)
	if code != 502 || a.Error.Code != "device_error" || a.Error.DeviceCode != 513003 || a.Error.Source != "dock" || a.Error.Message == "" {
		t.Fatalf("refused start: %d %+v, want 502 device_error 513003 from the dock", code, a.Error)
	}
	t.Logf("refusal: %s", a.Error.Message)

	for _, c := range []struct {
		body string
		want int
	}{
		{`{"video_id":`, 400},
		{`{"video_id":"NOSUCHSN/1-0-0/normal-0"}`, 404},
		{fmt.Sprintf(`{"video_id":%q,"protocol":"carrier-pigeon"}`, video), 400},
	} {
		if code := call(t, g, "POST", "/api/v1/live", c.body, &liveAnswer{}); code != c.want {
			t.Errorf("POST %s answered %d, want %d", c.body, code, c.want)
		}
	}
	healthy(t, g)
}

// TestOnDemandAndIdleStop: a viewer opening a DJI video that is not live
// starts it; once the last viewer leaves, the push stops after
// control.idle_stop_after.
func TestOnDemandAndIdleStop(t *testing.T) {
	g := gwproc.Start(t, "control: {idle_stop_after: 2s}\n")
	d := startDock(t, g, nil)
	video := d.VideoIDs()[0]

	r := playWHEP(t, g.URL("/"+video+"/whep"), time.Second)
	if r.FramesDecoded == 0 {
		t.Fatalf("on-demand start: nothing decoded (%+v)", r)
	}
	// The viewer left (DELETE); the push must stop by itself.
	waitLiveStopped(t, g, video, 15*time.Second, "the idle push to stop")
}
