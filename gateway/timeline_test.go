package gateway

import (
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

func TestTimeline(t *testing.T) {
	video := h264Track(true)
	audio, _ := TrackFor(&format.Opus{PayloadTyp: 111, ChannelCount: 2})
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	type step struct {
		track int
		pts   int64     // publisher's timestamp, track clock
		at    time.Time // arrival
		want  int64     // stream timestamp
		jump  bool      // the timeline moved
	}
	for _, tc := range []struct {
		name  string
		base  time.Duration
		steps []step
	}{
		{"steady clock is kept", 0, []step{
			{0, 0, ms(0), 0, false}, {0, 3600, ms(40), 3600, false}, {0, 7200, ms(80), 7200, false}}},
		{"small step back is left to the processor", 0, []step{
			{0, 90000, ms(0), 90000, false}, {0, 82800, ms(40), 82800, false}, {0, 93600, ms(80), 93600, false}}},
		{"B-frame reordering is no jump", 0, []step{
			{0, 0, ms(0), 0, false}, {0, 10800, ms(40), 10800, false}, {0, 3600, ms(80), 3600, false}, {0, 7200, ms(120), 7200, false}}},
		// 19.96 s -> 0.04 s, as an encoder that loops its source does.
		{"restart jumps back: continue after the last unit", 0, []step{
			{0, 1796400, ms(0), 1796400, false}, {0, 3600, ms(40), 1796400 + 3600, true}, {0, 7200, ms(80), 1796400 + 7200, false}}},
		{"leap forward: continue after the last unit", 0, []step{
			{0, 0, ms(0), 0, false}, {0, 90000 * 3600, ms(40), 3600, true}, {0, 90000*3600 + 3600, ms(80), 7200, false}}},
		{"a pause in real time stays a pause", 0, []step{
			{0, 0, ms(0), 0, false}, {0, 90000 * 30, ms(30000), 90000 * 30, true}, {0, 90000*30 + 3600, ms(30040), 90000*30 + 3600, false}}},
		{"a reconnect starts at its base", 2 * time.Second, []step{
			{0, 0, ms(0), 180000, false}, {1, 0, ms(0), 96000, false}}},
		{"a faster than real time publisher moves on by a millisecond", 0, []step{
			{0, 1796400, ms(0), 1796400, false}, {0, 0, ms(0), 1796400 + 90, true}}},
		// Audio 0.5 s behind video before and after the restart.
		{"tracks that jump together stay in step", 0, []step{
			{0, 1800000, ms(0), 1800000, false}, {1, 936000, ms(0), 936000, false},
			{0, 45000, ms(40), 1800000 + 3600, true}, {1, 0, ms(40), 936000 + 1920, false},
			{0, 48600, ms(80), 1800000 + 7200, false}, {1, 960, ms(60), 936000 + 1920 + 960, false}}},
		{"a track that did not jump keeps its clock", 0, []step{
			{0, 1800000, ms(0), 1800000, false}, {1, 960000, ms(0), 960000, false},
			{0, 0, ms(40), 1800000 + 3600, true}, {1, 961920, ms(40), 961920, false}}},
		{"a track first seen after a jump takes the new offset", 0, []step{
			{0, 1800000, ms(0), 1800000, false}, {0, 0, ms(40), 1803600, true}, {1, 0, ms(40), 1803600 * 48000 / 90000, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := newTimeline([]*Track{video, audio}, tc.base)
			for i, s := range tc.steps {
				off, jump := tl.shift(s.track, s.pts, s.at)
				if got := s.pts + off; got != s.want || (jump != 0) != s.jump {
					t.Fatalf("step %d: track %d pts %d -> %d (jump %v), want %d (jump %v)", i, s.track, s.pts, got, jump, s.want, s.jump)
				}
			}
		})
	}
}

// An encoder that restarts on the same connection: the stream's clock goes
// on at the pace of its frames, and the jump is counted, not repaired frame
// by frame.
func TestPublisherClockRestartKeepsStreamGoing(t *testing.T) {
	h := newTestHub(t, 0)
	pub, err := h.Publish("live/a", SourceInfo{Protocol: "test"}, []*Track{h264Track(true)})
	if err != nil {
		t.Fatal(err)
	}
	r, ch := collect(0)
	if err := pub.Stream().AddReader(r); err != nil {
		t.Fatal(err)
	}
	pts := []int64{1792800, 1796400, 3600, 7200, 10800}
	for i, p := range pts {
		nal := testP
		if i == 0 || i == 2 {
			nal = testIDR
		}
		pub.WriteUnit(0, p, [][]byte{nal})
	}
	var got []int64
	for range pts {
		got = append(got, recv(t, ch).Unit.PTS)
	}
	for i := 1; i < len(got); i++ {
		if d := got[i] - got[i-1]; d < 90 || d > 90000 {
			t.Fatalf("PTS %v: step %d is %d ticks, want a frame's worth (the clock froze or leapt)", got, i, d)
		}
	}
	if n := h.metrics.process.Rebased.Load(); n != 1 {
		t.Fatalf("rebased %d times, want 1", n)
	}
	if n := h.metrics.process.Repaired.Load(); n != 0 {
		t.Fatalf("repaired %d timestamps, want none: the jump is rebased, not nudged", n)
	}
}

// FuzzTimeline feeds a timeline arbitrary timestamps of two tracks: it never
// panics, and every mapped timestamp lands within a step of the track's
// newest one or, after a rebase, right after it.
func FuzzTimeline(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		video := h264Track(true)
		audio, _ := TrackFor(&format.Opus{PayloadTyp: 111, ChannelCount: 2})
		tl := newTimeline([]*Track{video, audio}, 0)
		now := time.Unix(0, 0)
		for len(b) >= 9 {
			i := int(b[0] & 1)
			pts := int64(uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16 | uint64(b[4])<<24 | uint64(b[5])<<32 | uint64(b[6])<<40 | uint64(b[7])<<48)
			pts -= 1 << 55
			now = now.Add(time.Duration(b[8]) * time.Millisecond)
			b = b[9:]
			before, seen := tl.last[i], tl.seen[i]
			off, jump := tl.shift(i, pts, now)
			m := pts + off
			if jump != 0 && m <= before {
				t.Fatalf("track %d rebased to %d, not after %d", i, m, before)
			}
			if seen && jump == 0 && !tl.steady(i, m-before) {
				t.Fatalf("track %d: %d after %d without a rebase", i, m, before)
			}
		}
	})
}

// BenchmarkTimelineShift is the cost the timeline adds to every unit.
func BenchmarkTimelineShift(b *testing.B) {
	tl := newTimeline([]*Track{h264Track(true)}, 0)
	now := time.Now()
	for i := 0; b.Loop(); i++ {
		tl.shift(0, int64(i)*3000, now)
	}
}

// The first unit after a clock jump carries Discontinuity, so that outputs
// that keep runs (recording) cut one there; the units around it do not.
func TestClockJumpMarksDiscontinuity(t *testing.T) {
	h := newTestHub(t, 0)
	pub, err := h.Publish("live/d", SourceInfo{Protocol: "test"}, []*Track{h264Track(true)})
	if err != nil {
		t.Fatal(err)
	}
	r, ch := collect(0)
	if err := pub.Stream().AddReader(r); err != nil {
		t.Fatal(err)
	}
	for i, p := range []int64{900000, 903600, 3600, 7200} {
		nal := testP
		if i%2 == 0 {
			nal = testIDR
		}
		pub.WriteUnit(0, p, [][]byte{nal})
	}
	for i, want := range []bool{false, false, true, false} {
		if f := recv(t, ch); f.Unit.Discontinuity != want {
			t.Fatalf("unit %d: discontinuity %v, want %v", i, f.Unit.Discontinuity, want)
		}
	}
}
