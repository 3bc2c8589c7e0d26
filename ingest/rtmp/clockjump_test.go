package rtmp

import (
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
)

// TestPublisherClockRestart: an RTMP publisher loops a 2 s clip in real
// time on one connection with its timestamps starting over at each pass
// (an encoder that loops its source). ffprobe reads 5 s of it back over
// RTMP, which it only finishes when the stream's clock follows real time,
// and the hub's timestamps advance as the wall clock does.
func TestPublisherClockRestart(t *testing.T) {
	t.Parallel()
	const path = "loop/restart"
	e, c := quirkEnv(t, path)
	c.meta(metaVideo)
	c.avcConfig()
	type result struct {
		p   probe
		err error
	}
	probed := make(chan result, 1)
	var mu sync.Mutex
	var first, last int64
	var firstAt, lastAt time.Time
	c.frames(200, 1, func(i int, au [][]byte) (time.Duration, []byte) {
		return time.Duration(i%50) * time.Second / craftedFPS, avcc(au...)
	}, func(i int, _ time.Duration) {
		if i != 1 {
			return
		}
		s := e.waitReady(t, path, 5*time.Second)
		r := &gateway.Reader{Protocol: "test", SkipRTP: true, Handle: func(f gateway.Frame) error {
			if f.Backlog {
				return nil
			}
			mu.Lock()
			if firstAt.IsZero() {
				first, firstAt = f.Unit.PTS, time.Now()
			}
			last, lastAt = f.Unit.PTS, time.Now()
			mu.Unlock()
			return nil
		}}
		if err := s.AddReader(r); err != nil {
			t.Error(err)
		}
		go func() {
			p, err := probeVideoErr(t, e.url(path), "5")
			probed <- result{p, err}
		}()
	})
	r := <-probed
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.p.Codec != "h264" || r.p.Frames < 100 {
		t.Fatalf("ffprobe over 5 s of a looping clip: %+v", r.p)
	}
	mu.Lock()
	media := time.Duration(last-first) * time.Second / 90000
	wall := lastAt.Sub(firstAt)
	mu.Unlock()
	if wall < 6*time.Second || media < wall*8/10 || media > wall*12/10 {
		t.Fatalf("stream time advanced %v in %v of real time: the clock froze or leapt", media, wall)
	}
	t.Logf("ffprobe decoded %d frames; stream time %v over %v of real time", r.p.Frames, media, wall)
}
