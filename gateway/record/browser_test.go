package record

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// recordingPage plays a range MP4 in <video src>, seeks to 2.5 s once it
// played a second, and reports what it saw.
const recordingPage = `<!doctype html><html><body><video id="v" muted playsinline></video><script>
const v = document.getElementById('v');
window.errors = [];
v.onerror = () => window.errors.push(String(v.error && v.error.message));
let seeked = false, framesBefore = 0;
v.addEventListener('seeked', () => { seeked = true; });
v.addEventListener('timeupdate', () => {
  if (!window.seekAsked && v.currentTime > 1) {
    window.seekAsked = true;
    framesBefore = v.getVideoPlaybackQuality().totalVideoFrames;
    v.currentTime = 2.5;
  }
  if (seeked && v.currentTime > 3.2 && !window.result) {
    window.result = {frames: v.getVideoPlaybackQuality().totalVideoFrames, framesBefore,
      time: v.currentTime, width: v.videoWidth, duration: v.duration, errors: window.errors};
  }
});
v.src = location.search.slice(5);
v.play().catch(e => window.errors.push(String(e)));
</script></body></html>`

// TestChromiumPlaysAndSeeksRecording: headless Chromium plays the range
// MP4 with <video src>, decodes frames, and seeks into it; the server
// answers its byte-range requests.
func TestChromiumPlaysAndSeeksRecording(t *testing.T) {
	testpeer.Require(t, "ffmpeg", "chromium")
	clip := testpeer.Clip(t, testpeer.ClipH264SmallAAC)
	g := newRig(t, func(r *Recorder) { r.PartDuration = 200 * time.Millisecond })
	var mu sync.Mutex
	var ranges []string
	inner := g.api.Config.Handler
	g.api.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if strings.HasSuffix(r.URL.Path, "/mp4") {
			mu.Lock()
			ranges = append(ranges, r.Header.Get("Range"))
			mu.Unlock()
		}
		inner.ServeHTTP(w, r)
	})
	g.push(t, clip, "play/cam")
	g.waitSegments(t, 1, 30*time.Second)
	l := g.listing(t, "play/cam")
	src := g.api.URL + mp4URL("play/cam", l.Segments[0].Start.Add(-time.Second), 60)
	ctx := testpeer.Context(t, 90*time.Second)
	res := testpeer.Browser(t, ctx, testpeer.BrowserJob{
		HTML:      strings.Replace(recordingPage, "location.search.slice(5)", "'"+src+"'", 1),
		WaitFor:   "window.result || (window.errors && window.errors.length > 0)",
		Evaluate:  "window.result || {errors: window.errors}",
		TimeoutMs: 60000,
	})
	var out struct {
		Frames, FramesBefore, Width int
		Time, Duration              float64
		Errors                      []string
	}
	if err := res.Decode(&out); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("chromium: %+v; range requests: %q", out, ranges)
	if len(out.Errors) > 0 || out.Width != 320 || out.FramesBefore < 20 || out.Time < 3.2 {
		t.Fatalf("chromium did not play and seek the recording: %+v", out)
	}
	if out.Duration < 3.8 || out.Duration > 4.3 {
		t.Fatalf("chromium sees %.2f s, want about 4", out.Duration)
	}
	sawRange := false
	for _, r := range ranges {
		sawRange = sawRange || strings.HasPrefix(r, "bytes=")
	}
	if !sawRange {
		t.Fatalf("chromium never asked for a byte range: %q", ranges)
	}
}
