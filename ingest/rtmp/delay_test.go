package rtmp

import (
	"context"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// firstFrameBound tells our track detection from gortmplib's Reader, which
// alone spends 2 s probing and throws those frames away. It is a behaviour
// check with room for a loaded CI machine; the speed itself (a few ms from
// the TCP accept, target 300 ms) is a figure of make bench
// (BenchmarkRTMPFirstFrame, docs/benchmarks.md), not a test's time limit.
const firstFrameBound = 1500 * time.Millisecond

// readyAt returns a channel that gets the time path becomes playable.
func readyAt(e *env, path string) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if e.hub.WaitReady(ctx, path) == nil {
			ch <- time.Now()
		}
		close(ch)
	}()
	return ch
}

// firstFrameDelay is the time from the publisher's accepted connection to
// its first playable frame.
func firstFrameDelay(t testing.TB, e *env, ready <-chan time.Time) time.Duration {
	t.Helper()
	at, ok := <-ready
	if !ok {
		t.Fatalf("the stream never became playable\n%s", e.log)
	}
	return at.Sub(e.lastAccept())
}

// TestFirstFrameDelay: publish to first playable frame, in real time, for
// ffmpeg and for the DJI cases where tracks are unknown up front: no
// onMetaData (FlightHub Sync), and onMetaData announcing audio that never
// comes. None waits for a 2 s probe.
func TestFirstFrameDelay(t *testing.T) {
	t.Parallel()
	t.Run("ffmpeg", func(t *testing.T) {
		e := newEnv(t, 0)
		ready := readyAt(e, "live/ffmpeg")
		pushFFmpeg(t, testpeer.Clip(t, testpeer.ClipH264Small), e.url("live/ffmpeg"), true)
		checkDelay(t, firstFrameDelay(t, e, ready))
	})
	t.Run("no-metadata", func(t *testing.T) {
		e := newEnv(t, 0)
		ready := readyAt(e, "live/flighthub")
		c := newCrafted(t, e.url("live/flighthub"))
		c.avcConfig()
		c.frames(15, 1, nil, nil)
		d := firstFrameDelay(t, e, ready)
		checkDelay(t, d)
		if d < DefaultTrackWait {
			t.Fatalf("ready after %v: the wait for a possible audio track was skipped", d)
		}
	})
	t.Run("announced-audio-never-comes", func(t *testing.T) {
		e := newEnv(t, 0)
		ready := readyAt(e, "live/noaudio")
		c := newCrafted(t, e.url("live/noaudio"))
		c.meta(amf0.Object{{Key: "videocodecid", Value: float64(7)}, {Key: "audiocodecid", Value: float64(10)}})
		c.avcConfig()
		c.frames(15, 1, nil, nil)
		checkDelay(t, firstFrameDelay(t, e, ready))
	})
}

func checkDelay(t *testing.T, d time.Duration) {
	t.Helper()
	t.Logf("publish to first playable frame: %v", d)
	if d > firstFrameBound {
		t.Fatalf("first playable frame after %v: waited like a 2 s probe (bound %v)", d, firstFrameBound)
	}
}
