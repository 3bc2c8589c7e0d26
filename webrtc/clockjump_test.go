package webrtc_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/webrtc/whepclient"
	"github.com/skyrelay/skyrelay/webrtc/whipclient"
)

// TestWHIPClockRestart: a WHIP publisher (pion) loops a 2.5 s clip in real
// time with its RTP timestamps jumping back to where the pass began, as an
// encoder that loops its source does. The hub's timestamps advance as the
// wall clock does, and a WHEP viewer (pion) keeps getting frames whose RTP
// timestamps never go backwards.
func TestWHIPClockRestart(t *testing.T) {
	e := whipEnv(t)
	c := makeClip(t, clipSmall)
	const path = "live/whiploop"
	wc := &whipclient.Client{URL: e.whip(path)}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := wc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wc.Close)
	var video [][][]byte
	for _, u := range c.units {
		if u.track == 0 {
			video = append(video, u.payload)
		}
	}
	pass := c.spec.GOP // one GOP per pass: each starts with a keyframe
	frame := time.Second / time.Duration(c.spec.FPS)
	// The duration of a pass's last frame moves the next timestamp back
	// to where the pass began: pion adds it modulo 2^32.
	ticks := uint32(90000 / c.spec.FPS)
	back := time.Duration(uint64(1<<32-uint64(pass-1)*uint64(ticks))) * time.Second / 90000
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		start := time.Now()
		for i := 0; ; i++ {
			d := frame
			if i%pass == pass-1 {
				d = back
			}
			if err := wc.WriteVideo(video[i%pass], d); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Until(start.Add(time.Duration(i+1) * frame))):
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	waitReady(t, e, path)

	var mu sync.Mutex
	var first, last int64
	var firstAt, lastAt time.Time
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
	if err := e.hub.Stream(path).AddReader(r); err != nil {
		t.Fatal(err)
	}
	v := &whepclient.Client{URL: e.whep(path)}
	startClient(t, v)
	if err := v.WaitVideoFrames(ctx, 5*c.spec.FPS); err != nil {
		t.Fatal(err)
	}
	if st := v.Stats(); st.TimestampBackwards != 0 {
		t.Fatalf("the viewer saw RTP timestamps go back: %+v", st)
	}
	mu.Lock()
	media := time.Duration(last-first) * time.Second / 90000
	wall := lastAt.Sub(firstAt)
	mu.Unlock()
	if wall < 4*time.Second || media < wall*8/10 || media > wall*12/10 {
		t.Fatalf("stream time advanced %v in %v of real time: the clock froze or leapt", media, wall)
	}
	t.Logf("stream time %v over %v of real time", media, wall)
}
