package hls

import (
	"testing"
	"time"
)

func TestGapCloser(t *testing.T) {
	ms := time.Millisecond
	type unit struct {
		t      time.Duration
		video  bool
		shift  time.Duration
		closed bool
	}
	tests := []struct {
		name  string
		part  time.Duration
		units []unit
	}{
		{"steady 25 fps passes unchanged", 200 * ms, []unit{
			{0, true, 0, false}, {40 * ms, true, 0, false}, {80 * ms, true, 0, false}, {120 * ms, true, 0, false},
		}},
		{"a 2 s stall becomes one frame interval", 200 * ms, []unit{
			{0, true, 0, false}, {40 * ms, true, 0, false}, {80 * ms, true, 0, false},
			{2080 * ms, true, 1960 * ms, true}, {2120 * ms, true, 1960 * ms, false},
		}},
		{"audio and video shift together", 200 * ms, []unit{
			{0, true, 0, false}, {10 * ms, false, 0, false}, {40 * ms, true, 0, false}, {33 * ms, false, 0, false},
			{1040 * ms, false, 960 * ms, true}, {1080 * ms, true, 960 * ms, false},
		}},
		{"a step shorter than the part is left alone", 200 * ms, []unit{
			{0, true, 0, false}, {40 * ms, true, 0, false}, {190 * ms, true, 0, false},
		}},
		{"B-frames step back and are left alone", 200 * ms, []unit{
			{0, true, 0, false}, {120 * ms, true, 0, false}, {40 * ms, true, 0, false}, {80 * ms, true, 0, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGapCloser(tt.part)
			for i, u := range tt.units {
				shift, closed, _ := g.place(u.t, u.video, false)
				if shift != u.shift || closed != u.closed {
					t.Fatalf("unit %d at %v: shift %v closed %v, want %v %v", i, u.t, shift, closed, u.shift, u.closed)
				}
			}
		})
	}
}

// A 1 fps stream is slow, not stalled: once its pace is learnt, its
// frames are never squeezed together.
func TestGapCloserLearnsASlowStream(t *testing.T) {
	g := newGapCloser(200 * time.Millisecond)
	closed := 0
	for i := 0; i < 60; i++ {
		if _, c, _ := g.place(time.Duration(i)*time.Second, true, true); c {
			closed++
		}
	}
	// The first frames, before the pace is known, may be closed up; once
	// the usual interval is learnt, none.
	if closed > 3 {
		t.Fatalf("%d of 60 one-second steps closed", closed)
	}
	if _, c, _ := g.place(60*time.Second, true, true); c {
		t.Fatal("a learnt 1 s step was closed")
	}
}

// After a reconnect the audio may show the gap first: it is held, and
// the video closes the gap on its exact step; the held audio then fits.
func TestGapCloserLetsTheVideoClose(t *testing.T) {
	ms := time.Millisecond
	g := newGapCloser(200 * ms)
	for i := 0; i < 5; i++ {
		g.place(time.Duration(i)*40*ms, true, true)
		g.place(time.Duration(i)*40*ms+5*ms, false, true)
	}
	if _, closed, hold := g.place(3000*ms, false, true); closed || !hold {
		t.Fatalf("audio showing the gap: closed %v hold %v, want held", closed, hold)
	}
	shift, closed, _ := g.place(3022*ms, true, true)
	if got := 3022*ms - shift; !closed || got != 200*ms {
		t.Fatalf("video continued at %v (closed %v), want 200ms", got, closed)
	}
	if shift2, closed, hold := g.place(3000*ms, false, false); closed || hold || shift2 != shift {
		t.Fatalf("held audio placed again: shift %v closed %v hold %v", shift2, closed, hold)
	}
}

// RTMP's millisecond timestamps step 33, 33, 34 ms at 30 fps; after an
// encoder's stall the steps go on in that pattern, so every six frames
// still span exactly 200 ms (the length of a 200 ms part). A publisher
// that restarts its clock starts the pattern anew, and one part may come
// out a millisecond off: the same as a jittery clock does anyway.
func TestGapCloserKeepsMillisecondPattern(t *testing.T) {
	ms := func(i int) time.Duration { return time.Duration((i*1000+15)/30) * time.Millisecond }
	g := newGapCloser(200 * time.Millisecond)
	var placed []time.Duration
	for i := 0; i < 40; i++ {
		shift, _, _ := g.place(ms(i), true, true)
		placed = append(placed, ms(i)-shift)
	}
	for i := 40; i < 80; i++ { // the encoder stalled for 3 s
		shift, _, _ := g.place(3*time.Second+ms(i), true, true)
		placed = append(placed, 3*time.Second+ms(i)-shift)
	}
	for i := 6; i < len(placed); i++ {
		if d := placed[i] - placed[i-6]; d != 200*time.Millisecond {
			t.Fatalf("frames %d..%d span %v, want 200ms (around the gap at 40)", i-6, i, d)
		}
	}
}
