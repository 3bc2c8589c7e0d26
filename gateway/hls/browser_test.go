package hls

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway/hls/hlstest"
)

// hlsPage plays a path with hls.js, as the player page does when WebRTC
// fails, without the page's WebRTC attempt.
const hlsPage = `<!doctype html><html><body>
<video id="v" muted autoplay playsinline></video>
<script src="/static/vendor/hls.js/hls.min.js"></script>
<script>
window.errors = [];
const hls = new Hls({lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5});
hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) window.errors.push(d.details); });
hls.loadSource(location.pathname.replace(/play$/, 'index.m3u8'));
hls.attachMedia(document.getElementById('v'));
</script></body></html>`

const hlsProbe = `(() => { const v = document.getElementById('v');
  return {frames: v.getVideoPlaybackQuality().totalVideoFrames, width: v.videoWidth, height: v.videoHeight,
    time: v.currentTime, errors: window.errors}; })()`

type playback struct {
	Frames int      `json:"frames"`
	Width  int      `json:"width"`
	Height int      `json:"height"`
	Time   float64  `json:"time"`
	Errors []string `json:"errors"`
}

// Chromium plays the muxer's LL-HLS with hls.js, and keeps playing when
// the publisher drops and comes back within the grace period: the muxer
// and its reader stay, frames keep coming.
func TestChromiumPlaysLLHLSAcrossPublisherReconnect(t *testing.T) {
	e := newEnv(t, 5*time.Second, time.Minute)
	p := hlstest.Publish(t, e.hub, "live/a", hlstest.H264Clip(t, 320, 240, 30, 4))

	// Once the browser downloaded some media, drop the publisher for half
	// a second and bring it back.
	var reconnected atomic.Bool
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) && e.hub.Stream("live/a").BytesSent() < 50_000 {
			time.Sleep(50 * time.Millisecond)
		}
		p.Stop()
		time.Sleep(500 * time.Millisecond) // the publisher's outage
		if err := p.Start(); err != nil {
			t.Error(err)
			return
		}
		reconnected.Store(true)
	}()

	// 10 s of frames at 30 fps: far more than hls.js buffers before the
	// drop, so frames kept coming after the reconnect.
	res := hlstest.Browser(t, hlstest.BrowserRun{
		URL:     e.base + "/live/a/play",
		HTML:    hlsPage,
		Probe:   hlsProbe,
		Until:   "v.frames >= 300 && v.width === 320",
		Timeout: 25 * time.Second,
	})
	var pb playback
	_ = json.Unmarshal(res.Probe, &pb)
	if !res.OK {
		t.Fatalf("hls.js playback: %+v\n%s", pb, res.Tail(20))
	}
	if !reconnected.Load() {
		t.Fatal("the publisher did not reconnect during playback")
	}
	if pb.Width != 320 || pb.Height != 240 || len(pb.Errors) > 0 {
		t.Fatalf("playback %+v, want 320x240 without fatal errors", pb)
	}
	select {
	case c := <-e.closed:
		t.Fatalf("muxer of %s closed (%s) during a reconnect within grace", c[0], c[1])
	default:
	}
	if st := e.hub.Stream("live/a"); st.Info().Reconnects != 1 || hlsReaders(st) != 1 {
		t.Fatalf("reconnects %d, hls readers %d; want 1 and 1", st.Info().Reconnects, hlsReaders(st))
	}
	t.Logf("played %+v", pb)
}
