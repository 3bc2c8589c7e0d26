package rtmp

import "time"

// resetJump is how far back a timestamp must jump to count as a restart of
// the publisher's clock rather than jitter. The stream core repairs small
// steps back (go2rtc#1969) on its own by nudging them forward; a restart
// would be nudged frame by frame for as long as it jumped back, freezing
// players, so it is rebased here instead.
const resetJump = time.Second

// timeline keeps one track's timestamps going forward across a restart of
// the publisher's clock (and across the 32-bit millisecond wrap-around
// after 49.7 days).
type timeline struct {
	offset  time.Duration
	last    time.Duration
	started bool
}

// rebase maps a tag's DTS onto the track's timeline; the tag's PTS keeps
// its distance to the DTS.
func (t *timeline) rebase(dts time.Duration) time.Duration {
	d := dts + t.offset
	if t.started && d < t.last-resetJump {
		t.offset += t.last - d + time.Millisecond
		d = dts + t.offset
	}
	if !t.started || d > t.last {
		t.last = d
	}
	t.started = true
	return d
}

// ctsSigned reads FLV's CompositionTime as the signed 24-bit value it is
// (video_file_format_spec_v10 §E.4.3.1); gortmplib reads it unsigned, which
// turns a negative offset into 4.6 hours.
func ctsSigned(d time.Duration) time.Duration {
	if d >= 1<<23*time.Millisecond {
		d -= 1 << 24 * time.Millisecond
	}
	return d
}
