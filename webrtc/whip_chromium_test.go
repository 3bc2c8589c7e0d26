package webrtc_test

import (
	"context"
	"fmt"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/ingest/rtsp"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// whipPage publishes Chromium's fake camera and microphone to the WHIP URL
// in location.hash until the test's stop server answers 200; then it
// DELETEs its session and sets window.state.done.
const whipPage = `<!doctype html><script>
window.state = {};
(async () => {
  const [whip, stopURL] = decodeURIComponent(location.hash.slice(1)).split(' ');
  const pc = new RTCPeerConnection();
  const s = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480, frameRate: 30}, audio: true});
  s.getTracks().forEach(tr => pc.addTransceiver(tr, {direction: 'sendonly', streams: [s]}));
  await pc.setLocalDescription(await pc.createOffer());
  const res = await fetch(whip, {method: 'POST', headers: {'Content-Type': 'application/sdp'}, body: pc.localDescription.sdp});
  const body = await res.text();
  if (res.status !== 201) throw new Error('WHIP answered ' + res.status + ': ' + body);
  const loc = new URL(res.headers.get('Location'), whip).toString();
  await pc.setRemoteDescription({type: 'answer', sdp: body});
  window.state.answer = body;
  setInterval(async () => {
    (await pc.getStats()).forEach(x => {
      if (x.type === 'outbound-rtp' && x.kind === 'video') { window.state.framesEncoded = x.framesEncoded; window.state.encoder = x.encoderImplementation; }
      if (x.type === 'codec' && x.mimeType.startsWith('video/')) window.state.codec = x.mimeType;
    });
    window.state.conn = pc.connectionState;
  }, 200);
  // The test's stop server answers 200 when the publisher should end;
  // the page polls it itself (playwright's waitFor wants a plain value).
  const poll = setInterval(async () => {
    if ((await fetch(stopURL)).status !== 200 || window.state.stopping) return;
    window.state.stopping = true;
    clearInterval(poll);
    window.state.deleted = (await fetch(loc, {method: 'DELETE'})).status;
    pc.close();
    window.state.done = true;
  }, 200);
})().catch(e => { window.state.err = String(e); });
</script>`

// whepCountPage plays a WHEP URL and reports framesDecoded twice, 1.5 s
// apart.
const whepCountPage = `<!doctype html><video id=v muted autoplay playsinline></video><script>
(async () => {
  const whep = decodeURIComponent(location.hash.slice(1));
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', {direction: 'recvonly'});
  pc.addTransceiver('audio', {direction: 'recvonly'});
  const ms = new MediaStream();
  pc.ontrack = e => { ms.addTrack(e.track); document.getElementById('v').srcObject = ms; };
  await pc.setLocalDescription(await pc.createOffer());
  const res = await fetch(whep, {method: 'POST', headers: {'Content-Type': 'application/sdp'}, body: pc.localDescription.sdp});
  if (res.status !== 201) throw new Error('WHEP answered ' + res.status + ': ' + await res.text());
  await pc.setRemoteDescription({type: 'answer', sdp: await res.text()});
  const decoded = async () => { let n = 0; (await pc.getStats()).forEach(x => { if (x.type === 'inbound-rtp' && x.kind === 'video') n = x.framesDecoded || 0; }); return n; };
  const t0 = Date.now();
  while ((await decoded()) === 0) {
    if (Date.now() - t0 > 15000) {
      const st = []; (await pc.getStats()).forEach(x => { if (x.type === 'inbound-rtp' || x.type === 'transport') st.push(x); });
      throw new Error('nothing decoded in 15 s: ' + pc.connectionState + ' ' + JSON.stringify(st));
    }
    await new Promise(r => setTimeout(r, 50));
  }
  const a = await decoded();
  await new Promise(r => setTimeout(r, 1500));
  window.result = {first: a, later: await decoded(), width: document.getElementById('v').videoWidth};
})().catch(e => { window.failure = String(e); });
</script>`

// Chromium publishes its fake camera over WHIP; ffprobe reads the stream
// back over RTSP and a second Chromium plays it over WHEP.
func TestChromiumWHIP(t *testing.T) {
	testpeer.Require(t, "chromium", "node", "playwright-core", "ffprobe")
	e := whipEnv(t)
	rs := &rtsp.Server{Address: "127.0.0.1:0", Hub: e.hub, Auth: &authz.Auth{}, Log: slog.New(slog.NewTextHandler(e.logs, nil))}
	if err := rs.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)

	var stopOnce sync.Once
	stopCh := make(chan struct{})
	stop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		select {
		case <-stopCh:
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusAccepted) // not yet
		}
	}))
	t.Cleanup(stop.Close)
	stopURL := stop.URL + "/stop"

	ctx := testpeer.Context(t, 90*time.Second)
	type pubResult struct {
		Err           string `json:"err"`
		FramesEncoded int    `json:"framesEncoded"`
		Codec         string `json:"codec"`
		Encoder       string `json:"encoder"`
		Deleted       int    `json:"deleted"`
		Answer        string `json:"answer"`
	}
	pubDone := make(chan pubResult, 1)
	go func() {
		res, err := testpeer.RunBrowser(ctx, testpeer.BrowserJob{
			HTML:      strings.Replace(whipPage, "location.hash.slice(1)", fmt.Sprintf("%q", e.whip("live/chrome")+" "+stopURL), 1),
			FakeMedia: true,
			WaitFor:   "window.state.err || window.state.done",
			Evaluate:  "window.state",
			TimeoutMs: 80000,
		})
		var out pubResult
		if err != nil {
			out.Err = err.Error()
		} else if !res.OK {
			out.Err = res.Error + "\n" + strings.Join(res.Console, "\n")
		} else if err := res.Decode(&out); err != nil {
			out.Err = err.Error()
		}
		pubDone <- out
	}()
	t.Cleanup(func() { stopOnce.Do(func() { close(stopCh) }) })

	rctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	if err := e.hub.WaitReady(rctx, "live/chrome"); err != nil {
		stopOnce.Do(func() { close(stopCh) })
		t.Fatalf("Chromium's WHIP stream did not become playable: %v (publisher: %+v)", err, <-pubDone)
	}

	rtspURL := "rtsp://" + rs.Addr().String() + "/live/chrome"
	pr := testpeer.FFprobe(t, ctx, rtspURL, "-rtsp_transport", "tcp", "-read_intervals", "%+2")
	v, ok := pr.Video()
	if !ok || v.Codec != "h264" || v.Width != 640 || v.Height != 480 || v.Packets < 10 {
		stopOnce.Do(func() { close(stopCh) })
		t.Fatalf("ffprobe over RTSP: %+v; publisher: %+v", pr.Streams, <-pubDone)
	}
	if a, ok := pr.Audio(); !ok || a.Codec != "opus" {
		t.Fatalf("ffprobe found no Opus audio: %+v", pr)
	}
	t.Logf("ffprobe over RTSP: %s %dx%d, %d packets in 2 s", v.Codec, v.Width, v.Height, v.Packets)

	st := e.hub.Stream("live/chrome")
	b0 := st.BytesReceived()
	waitFor(t, "Chromium still publishing", 5*time.Second, func() bool { return st.BytesReceived() > b0+10000 })
	res := testpeer.Browser(t, ctx, testpeer.BrowserJob{
		HTML:      strings.Replace(whepCountPage, "location.hash.slice(1)", fmt.Sprintf("%q", e.whep("live/chrome")), 1),
		WaitFor:   "window.result || window.failure",
		Evaluate:  "window.result || {failure: window.failure}",
		TimeoutMs: 30000,
	})
	var got struct {
		First, Later, Width int
		Failure             string
	}
	if err := res.Decode(&got); err != nil || got.Failure != "" {
		b1 := st.BytesReceived()
		time.Sleep(time.Second) // diagnostics only: is the publisher still sending?
		t.Fatalf("WHEP in Chromium: %s %v (publisher bytes in the last second: %d)", res.Result, err, st.BytesReceived()-b1)
	}
	t.Logf("Chromium over WHEP decoded %d frames in 1.5 s at width %d", got.Later-got.First, got.Width)
	if got.Later-got.First < 10 || got.Width != 640 {
		t.Fatalf("WHEP playback of a WHIP source: %+v", got)
	}

	stopOnce.Do(func() { close(stopCh) })
	out := <-pubDone
	if out.Err != "" {
		t.Fatalf("publisher page: %s", out.Err)
	}
	t.Logf("Chromium published %d frames of %s (%s)", out.FramesEncoded, out.Codec, out.Encoder)
	if out.Deleted != http.StatusOK {
		t.Fatalf("DELETE of the WHIP session answered %d", out.Deleted)
	}
	if strings.Count(mediaSection(out.Answer, "video"), "a=rtpmap:") != 1 {
		t.Fatalf("answer to Chromium has more than one video codec:\n%s", out.Answer)
	}
	waitFor(t, "WHIP session gone", 5*time.Second, func() bool { return e.srv.WHIPCount() == 0 })
}
