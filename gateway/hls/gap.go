package hls

import "time"

// gapCloser takes out of the muxer's timeline the time during which a
// stream sent nothing at all: a publisher that stalled, or reconnected
// within the grace period (the stream core resumes its clock after the
// real outage, which is right for RTP readers).
//
// Left in, such a gap ends up inside one LL-HLS part, and the part target
// duration the playlist declares (EXT-X-PART-INF) must grow to cover it,
// then shrink once the long part leaves the window. The HLS spec forbids
// the part target from changing, and Safari stops playing when it does
// (gohlslib warns "this will cause an error in iOS clients"). Closed up,
// the gap is one usual frame interval on the timeline; the viewer sees the
// picture hold, as it did anyway, and the parts stay the same length.
//
// A gap is a step of the stream-wide newest timestamp (all tracks) beyond
// both the part duration and four usual intervals of the first video
// track, so a slow but steady stream (a thermal camera at 1 fps) is not
// squeezed once its first few frames taught the closer its pace. All
// tracks shift by the same amount: audio stays in step.
type gapCloser struct {
	minGap time.Duration // never close a step shorter than this
	shift  time.Duration // taken off every timestamp so far
	newest time.Duration // newest shifted timestamp of any track
	usual  time.Duration // smoothed interval between video frames
	raw    time.Duration // the previous video timestamp, as it came
	video  time.Duration // the previous video timestamp, shifted
	vstep  time.Duration // the video step to close a gap with (see step)
	steps  [stepMemory]time.Duration
	nsteps int
	vseen  bool
	seen   bool
}

// stepMemory is how many video steps the closer keeps. Millisecond
// timestamps (RTMP, FLV) step in a pattern, 33, 33, 34 ms at 30 fps: the
// step taken to close a gap is the one stepMemory steps back, so that the
// pattern (period 1, 2, 3 or 6) goes on and every part of the same number
// of frames keeps the same length.
const stepMemory = 6

// maxLearnt bounds the step that teaches the usual interval, so that one
// long stall does not make the closer blind to the next.
const maxLearnt = time.Second

// newGapCloser closes gaps longer than partDuration (and than the usual
// frame interval allows).
func newGapCloser(partDuration time.Duration) *gapCloser {
	return &gapCloser{minGap: partDuration, usual: 40 * time.Millisecond}
}

// place returns how much to take off a unit's timestamp t (any track;
// video says whether it is the leading video track's), and whether this
// unit closed a gap.
//
// The gap is closed so that the video continues one step (its last one)
// after its previous frame: a video step of the usual length keeps the
// LL-HLS part that holds it as long as the others, to the millisecond the
// playlist declares. So when the stream has video, the video closes the
// gap: an audio unit that shows it first is to be held (hold) and placed
// again once the video came, unless mayHold is false; then it closes the
// gap itself, and the video's step may come out a little long.
func (g *gapCloser) place(t time.Duration, video, mayHold bool) (shift time.Duration, closed, hold bool) {
	s := t - g.shift
	if !g.seen {
		g.seen, g.newest = true, s
	}
	if step := s - g.newest; step > max(g.minGap, 4*g.usual) {
		if !video && g.vstep > 0 && mayHold {
			return g.shift, false, true
		}
		next := g.newest + g.usual
		if g.vstep > 0 {
			next = g.video + g.vstep
		}
		g.shift += s - next
		s, closed = next, true
	}
	if video {
		if g.vseen && t > g.raw {
			g.usual += (min(t-g.raw, maxLearnt) - g.usual) / 8
			if !closed {
				g.steps[g.nsteps%stepMemory] = s - g.video
				g.nsteps++
				// The oldest step kept, once there are enough: the
				// step that follows the last one in any pattern whose
				// period divides stepMemory.
				g.vstep = g.steps[g.nsteps%stepMemory]
				if g.nsteps < stepMemory {
					g.vstep = s - g.video
				}
			}
		}
		g.raw, g.video, g.vseen = t, s, true
	}
	g.newest = max(g.newest, s)
	return g.shift, closed, false
}
