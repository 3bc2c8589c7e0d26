package webrtc

import (
	"testing"
	"time"
)

// A viewer joins 45 frames (1.5 s) into a GOP at 30 fps: the backlog goes
// out at catchUpSpeed, stamped with send time; the first live frame keeps
// the clock going and later live frames keep the source's spacing.
func TestCatchUpTiming(t *testing.T) {
	c := &catchUp{clock: 90000}
	now := time.Unix(1000, 0)
	const frame = 3000 // 90 kHz ticks at 30 fps
	src := uint32(4_000_000_000)
	arrival := now.Add(-1500 * time.Millisecond)
	var last uint32
	t0 := now
	for i := 0; i < 45; i++ {
		at, out := c.video(src+uint32(i*frame), true, arrival.Add(time.Duration(i)*time.Second/30), now)
		want := t0.Add(time.Duration(i) * time.Second / 30 / catchUpSpeed)
		if d := at.Sub(want); d < -time.Millisecond || d > time.Millisecond {
			t.Fatalf("backlog frame %d scheduled at %v, want %v", i, at.Sub(t0), want.Sub(t0))
		}
		// The timestamp is the send time on the RTP clock.
		if got, wantTS := out-src, uint32(at.Sub(t0).Seconds()*90000); got+1 < wantTS || got > wantTS+1 {
			t.Fatalf("backlog frame %d: timestamp +%d, want +%d", i, got, wantTS)
		}
		if i > 0 && int32(out-last) <= 0 {
			t.Fatalf("backlog frame %d: timestamp did not move forward", i)
		}
		last = out
		now = at
	}
	if c.live {
		t.Fatal("live during the backlog")
	}
	// A live frame that just arrived ends catching up.
	now = now.Add(10 * time.Millisecond)
	at, out := c.video(src+45*frame, false, now.Add(-5*time.Millisecond), now)
	if !c.live || !at.Equal(now) || int32(out-last) <= 0 {
		t.Fatalf("first live frame: live %v, wait %v, timestamp step %d", c.live, at.Sub(now), int32(out-last))
	}
	for i := 46; i < 50; i++ {
		_, next := c.video(src+uint32(i*frame), false, now, now)
		if next-out != frame {
			t.Fatalf("live frames %d apart, want %d", next-out, frame)
		}
		out = next
	}
}

// A viewer that joins on a live keyframe (no backlog) keeps the source's
// timestamps.
func TestCatchUpNoBacklog(t *testing.T) {
	c := &catchUp{clock: 90000}
	now := time.Now()
	at, out := c.video(1234, false, now, now)
	if !c.live || out != 1234 || !at.Equal(now) {
		t.Fatalf("live %v, timestamp %d", c.live, out)
	}
}

// Frames that never reach the live edge (a starved reader) stop catching
// up after maxCatchUp.
func TestCatchUpGivesUp(t *testing.T) {
	c := &catchUp{clock: 90000}
	now := time.Now()
	c.video(0, true, now.Add(-time.Hour), now)
	c.video(3000, false, now.Add(-time.Hour), now.Add(maxCatchUp+time.Second))
	if !c.live {
		t.Fatal("still catching up after maxCatchUp")
	}
}
