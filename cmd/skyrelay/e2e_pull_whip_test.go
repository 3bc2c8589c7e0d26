package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
	"github.com/skyrelay/skyrelay/sim"
)

// startPullDock runs a simulated Dock 3 whose url_type 2 RTSP server
// listens on a free loopback port, and waits until the gateway lists it.
func startPullDock(t *testing.T, g *gwproc.Process) sim.Dock {
	t.Helper()
	return startDockWith(t, g, sim.Options{EventInterval: -1, RTSPListen: "127.0.0.1:0"})
}

// pullSession is POST /api/v1/live's answer, as far as these tests read it.
type pullSession struct {
	Path     string `json:"path"`
	Protocol string `json:"protocol"`
	Play     struct {
		RTSP string `json:"rtsp"`
		WHEP string `json:"whep"`
	} `json:"play"`
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// streamSource reads the source protocol of a path from the streams API.
func streamSource(t *testing.T, g *gwproc.Process, path string) string {
	var s struct {
		Source struct {
			Protocol string `json:"protocol"`
		} `json:"source"`
	}
	if call(t, g, "GET", "/api/v1/streams/"+path, "", &s) != 200 {
		return ""
	}
	return s.Source.Protocol
}

// url_type 2 end to end: POST /api/v1/live with protocol rtsp makes the
// (simulated) dock run an RTSP server with fresh credentials; the gateway
// pulls the URL from the reply, and ffprobe reads the drone's camera from
// the gateway's own RTSP server. DELETE stops the push and the pull.
func TestDockRTSPPullEndToEnd(t *testing.T) {
	testpeer.Require(t, "ffprobe")
	g := gwproc.Start(t, "streams: {reconnect_grace: 2s}\n")
	d := startPullDock(t, g)
	video := d.VideoIDs()[1]

	var a pullSession
	code := call(t, g, "POST", "/api/v1/live", fmt.Sprintf(`{"video_id":%q,"protocol":"rtsp"}`, video), &a)
	if code != 201 || a.Protocol != "rtsp" || a.Path != video {
		t.Fatalf("POST /api/v1/live rtsp: %d %+v", code, a)
	}
	if src := streamSource(t, g, video); src != "rtsp_pull" {
		t.Fatalf("stream source %q, want rtsp_pull", src)
	}
	ctx := testpeer.Context(t, 30*time.Second)
	v, ok := testpeer.FFprobe(t, ctx, a.Play.RTSP, "-rtsp_transport", "tcp").Video()
	if !ok || v.Codec != "h264" || v.Width != 640 || v.Packets < 25 {
		t.Fatalf("ffprobe over RTSP of the pulled stream: %+v", v)
	}
	t.Logf("ffprobe read %d packets of %s %dx%d pulled from the dock", v.Packets, v.Codec, v.Width, v.Height)

	if code := call(t, g, "DELETE", "/api/v1/live/"+video, "", nil); code != 204 {
		t.Fatalf("DELETE answered %d", code)
	}
	eventually(t, 10*time.Second, "the pulled stream to end", func() bool {
		return call(t, g, "GET", "/api/v1/streams/"+video, "", nil) == 404
	})
}

// url_type 4 end to end: POST /api/v1/live with protocol whip hands the
// dock a WHIP URL with its push secret; the dock publishes over WHIP and
// ffprobe reads the stream over RTSP.
func TestDockWHIPEndToEnd(t *testing.T) {
	testpeer.Require(t, "ffprobe")
	g := gwproc.Start(t, "")
	d := startPullDock(t, g)
	video := d.VideoIDs()[1]

	var a pullSession
	code := call(t, g, "POST", "/api/v1/live", fmt.Sprintf(`{"video_id":%q,"protocol":"whip"}`, video), &a)
	if code != 201 || a.Protocol != "whip" {
		t.Fatalf("POST /api/v1/live whip: %d %+v", code, a)
	}
	if src := streamSource(t, g, video); src != "whip" {
		t.Fatalf("stream source %q, want whip", src)
	}
	ctx := testpeer.Context(t, 30*time.Second)
	v, ok := testpeer.FFprobe(t, ctx, a.Play.RTSP, "-rtsp_transport", "tcp").Video()
	if !ok || v.Codec != "h264" || v.Packets < 25 {
		t.Fatalf("ffprobe over RTSP of the WHIP stream: %+v", v)
	}
	if code := call(t, g, "DELETE", "/api/v1/live/"+video, "", nil); code != 204 {
		t.Fatalf("DELETE answered %d", code)
	}
}

// e2eWHIPPage publishes Chromium's fake camera to the WHIP URL in the
// hash, until the stop URL answers 200; then it DELETEs the session.
const e2eWHIPPage = `<!doctype html><script>
window.state = {};
(async () => {
  const [whip, stopURL] = decodeURIComponent(location.hash.slice(1)).split(' ');
  const pc = new RTCPeerConnection();
  const s = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: true});
  s.getTracks().forEach(tr => pc.addTransceiver(tr, {direction: 'sendonly', streams: [s]}));
  await pc.setLocalDescription(await pc.createOffer());
  const res = await fetch(whip, {method: 'POST', headers: {'Content-Type': 'application/sdp'}, body: pc.localDescription.sdp});
  const body = await res.text();
  if (res.status !== 201) throw new Error('WHIP answered ' + res.status + ': ' + body);
  const loc = new URL(res.headers.get('Location'), whip).toString();
  await pc.setRemoteDescription({type: 'answer', sdp: body});
  // The test's stop server answers 200 when the publisher should end;
  // the page polls it itself (playwright's waitFor wants a plain value).
  const poll = setInterval(async () => {
    if ((await fetch(stopURL)).status !== 200 || window.state.stopping) return;
    window.state.stopping = true;
    clearInterval(poll);
    const st = await pc.getStats();
    st.forEach(x => { if (x.type === 'outbound-rtp' && x.kind === 'video') window.state.framesEncoded = x.framesEncoded; });
    window.state.deleted = (await fetch(loc, {method: 'DELETE'})).status;
    pc.close();
    window.state.done = true;
  }, 200);
})().catch(e => { window.state.err = String(e); });
</script>`

// Chromium publishes its fake camera to the binary over WHIP, at /P/whip
// and in SRS's form /rtc/v1/whip/?app=A&stream=S (the one DJI firmware
// requires); ffprobe reads each back over RTSP.
func TestChromiumWHIPEndToEnd(t *testing.T) {
	testpeer.Require(t, "chromium", "node", "playwright-core", "ffprobe")
	g := gwproc.Start(t, "")
	for _, tc := range []struct{ name, url, path string }{
		{"P/whip", "/live/chromium/whip", "live/chromium"},
		{"rtc/v1/whip", "/rtc/v1/whip/?app=live&stream=chromium-srs", "live/chromium-srs"},
	} {
		t.Run(tc.name, func(t *testing.T) { chromiumWHIP(t, g, g.URL(tc.url), tc.path) })
	}
}

func chromiumWHIP(t *testing.T, g *gwproc.Process, whip, path string) {
	stopCh := make(chan struct{})
	stopped := false
	stopPage := func() {
		if !stopped {
			stopped = true
			close(stopCh)
		}
	}
	t.Cleanup(stopPage)
	stop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		select {
		case <-stopCh:
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	t.Cleanup(stop.Close)

	ctx := testpeer.Context(t, 90*time.Second)
	type result struct {
		Err           string `json:"err"`
		FramesEncoded int    `json:"framesEncoded"`
		Deleted       int    `json:"deleted"`
	}
	done := make(chan result, 1)
	go func() {
		res, err := testpeer.RunBrowser(ctx, testpeer.BrowserJob{
			HTML:      strings.Replace(e2eWHIPPage, "location.hash.slice(1)", fmt.Sprintf("%q", whip+" "+stop.URL), 1),
			FakeMedia: true,
			WaitFor:   "window.state.err || window.state.done",
			Evaluate:  "window.state",
			TimeoutMs: 80000,
		})
		var out result
		switch {
		case err != nil:
			out.Err = err.Error()
		case !res.OK:
			out.Err = res.Error + "\n" + strings.Join(res.Console, "\n")
		default:
			if err := res.Decode(&out); err != nil {
				out.Err = err.Error()
			}
		}
		done <- out
	}()

	g.WaitReady(t, path, 40*time.Second)
	if src := streamSource(t, g, path); src != "whip" {
		t.Fatalf("stream source %q, want whip", src)
	}
	pr := testpeer.FFprobe(t, ctx, g.RTSPURL(path), "-rtsp_transport", "tcp", "-read_intervals", "%+3")
	v, ok := pr.Video()
	stopPage()
	out := <-done
	if out.Err != "" {
		t.Fatalf("Chromium WHIP page: %s", out.Err)
	}
	t.Logf("ffprobe over RTSP: %+v; Chromium encoded %d frames", pr.Streams, out.FramesEncoded)
	if !ok || v.Codec != "h264" || v.Width != 640 || v.Height != 480 || v.Packets < 10 {
		t.Fatalf("ffprobe over RTSP of Chromium's WHIP stream: %+v", pr.Streams)
	}
	if out.Deleted != http.StatusOK {
		t.Fatalf("DELETE of the WHIP session answered %d", out.Deleted)
	}
}
