package gateway

import "time"

// Bounds of a step between two timestamps of one track that still counts as
// the same clock. A smaller step back is jitter or B-frame reordering, which
// the processor repairs (or leaves alone); a larger step either way means the
// publisher's clock restarted (an encoder restarted or looped its source on
// the same connection), and the timeline is rebased.
const (
	maxStepBack    = time.Second
	maxStepForward = 10 * time.Second
)

// timeline maps one publisher's timestamps onto its stream's, track by
// track. It starts from one offset for every track (zero for a fresh
// stream, "after the last unit" for a publisher that continues one) and
// moves it when a track's clock jumps, so that the stream's clock keeps
// going at the pace of real time instead of freezing on a jump back or
// leaping on a jump forward.
//
// When a clock restarts every track jumps, one after the other. The first
// track to jump picks the new offset; the others adopt it when it places
// them near where they were, so that audio and video stay in step. A track
// whose jump the shared offset does not explain gets its own.
type timeline struct {
	clock  []int64         // each track's clock rate
	base   time.Duration   // the offset of the latest rebase
	offset []time.Duration // the offset each track uses
	ticks  []int64         // offset, in the track's clock
	last   []int64         // newest mapped timestamp of each track
	lastAt []time.Time     // when it came
	seen   []bool
}

func newTimeline(tracks []*Track, base time.Duration) *timeline {
	n := len(tracks)
	tl := &timeline{base: base, clock: make([]int64, n), offset: make([]time.Duration, n), ticks: make([]int64, n),
		last: make([]int64, n), lastAt: make([]time.Time, n), seen: make([]bool, n)}
	for i, t := range tracks {
		tl.clock[i] = int64(t.ClockRate())
		tl.use(i, base)
	}
	return tl
}

func (tl *timeline) use(i int, off time.Duration) {
	tl.offset[i] = off
	tl.ticks[i] = int64(off) * tl.clock[i] / int64(time.Second)
}

func (tl *timeline) steady(i int, d int64) bool {
	return d >= -int64(maxStepBack)*tl.clock[i]/int64(time.Second) &&
		d <= int64(maxStepForward)*tl.clock[i]/int64(time.Second)
}

// shift is the offset, in track i's clock, that puts pts on the stream's
// timeline; jump is non-zero when this timestamp moved the offset (how far
// the publisher's clock jumped against the stream's).
func (tl *timeline) shift(i int, pts int64, now time.Time) (ticks int64, jump time.Duration) {
	m := pts + tl.ticks[i]
	if !tl.seen[i] {
		tl.seen[i] = true
		tl.note(i, m, now)
		return tl.ticks[i], 0
	}
	if tl.steady(i, m-tl.last[i]) {
		tl.note(i, m, now)
		return tl.ticks[i], 0
	}
	if tl.offset[i] != tl.base {
		// Another track rebased already: the same restart, most likely.
		old := tl.offset[i]
		tl.use(i, tl.base)
		if m2 := pts + tl.ticks[i]; tl.steady(i, m2-tl.last[i]) {
			tl.note(i, m2, now)
			return tl.ticks[i], 0
		}
		tl.use(i, old)
	}
	// Place the unit after the track's last one, as far as real time went
	// by (at least a millisecond, for publishers faster than real time).
	gap := max(now.Sub(tl.lastAt[i]), time.Millisecond)
	target := tl.last[i] + int64(gap)*tl.clock[i]/int64(time.Second)
	jump = time.Duration((m - tl.last[i]) * int64(time.Second) / tl.clock[i])
	tl.ticks[i] = target - pts
	tl.offset[i] = time.Duration(tl.ticks[i] * int64(time.Second) / tl.clock[i])
	tl.base = tl.offset[i]
	for j := range tl.seen {
		if !tl.seen[j] {
			tl.use(j, tl.base)
		}
	}
	tl.note(i, target, now)
	return tl.ticks[i], jump
}

func (tl *timeline) note(i int, m int64, now time.Time) {
	if m > tl.last[i] || tl.lastAt[i].IsZero() {
		tl.last[i] = m
	}
	tl.lastAt[i] = now
}
