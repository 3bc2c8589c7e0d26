package rtmp

import (
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestFFprobePlay: ffmpeg publishes, ffprobe plays the stream back over
// RTMP and decodes it.
func TestFFprobePlay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	pushFFmpeg(t, testpeer.Clip(t, testpeer.ClipH264Small), e.url("live/a"), true)
	st := e.waitReady(t, "live/a", 10*time.Second)
	start := time.Now()
	p := probeVideo(t, e.url("live/a"), "2")
	t.Logf("ffprobe took %v: %+v", time.Since(start), p)
	if p.Codec != "h264" || p.Width != 320 || p.Height != 240 || p.Frames < 40 {
		t.Fatalf("ffprobe over RTMP: %+v, want h264 320x240 and 40+ frames", p)
	}
	if st.BytesSent() == 0 {
		t.Fatal("bytes sent to the player were not counted")
	}
}
