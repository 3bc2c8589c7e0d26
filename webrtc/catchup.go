package webrtc

import "time"

// Fast start. A viewer joins mid-GOP and the core replays the GOP from its
// keyframe (frames marked Backlog): with DJI's 2–3 s GOPs, sending those
// frames with their own timestamps would make the browser either wait for
// the next keyframe or play 2–3 s behind live for ever. Instead the reader
// sends the backlog at catchUpSpeed times real time and stamps every frame
// with the moment it is sent: to the browser this looks like an ordinary
// live stream that happens to move fast, so it decodes the keyframe at once,
// plays through the GOP quickly and reaches the live edge, where the
// timestamps continue with a constant offset.
const (
	// catchUpSpeed is how much faster than real time the backlog goes out:
	// a 2.5 s GOP reaches live in 2.5/(speed−1) ≈ 0.8 s and costs about
	// speed × the stream's bitrate meanwhile.
	catchUpSpeed = 4
	// liveEdge: a frame that arrived less than this long ago is live.
	liveEdge = 100 * time.Millisecond
	// maxCatchUp ends catching up even if a slow reader never gets within
	// liveEdge of the publisher.
	maxCatchUp = 10 * time.Second
)

// catchUp maps one reader's video timestamps (see the comment above). It
// is used by the reader's goroutine only.
type catchUp struct {
	clock float64 // RTP ticks per second

	started bool
	start   time.Time // when the first frame went out
	first   uint32    // its timestamp, the same in and out
	live    bool
	offset  uint32 // out = in + offset once live
	last    uint32 // last timestamp sent
}

// ticks converts a wall-clock duration to RTP ticks.
func (c *catchUp) ticks(d time.Duration) uint32 {
	return uint32(int64(d.Seconds() * c.clock))
}

// video decides when to send a video frame with RTP timestamp ts and which
// timestamp it carries. backlog and arrival come from the gateway.Frame.
func (c *catchUp) video(ts uint32, backlog bool, arrival, now time.Time) (sendAt time.Time, out uint32) {
	if !c.started {
		c.started, c.start, c.first, c.last = true, now, ts, ts-1
	}
	if !c.live && ((!backlog && now.Sub(arrival) <= liveEdge) || now.Sub(c.start) > maxCatchUp) {
		c.live = true
		c.offset = c.after(c.first+c.ticks(now.Sub(c.start))) - ts
	}
	if c.live {
		c.last = ts + c.offset
		return now, c.last
	}
	// Media time of this frame since the first one (timestamps only move
	// forward: the core repairs them), played catchUpSpeed times faster.
	media := time.Duration(float64(int32(ts-c.first)) / c.clock * float64(time.Second))
	sendAt = c.start.Add(media / catchUpSpeed)
	if sendAt.Before(now) {
		sendAt = now
	}
	c.last = c.after(c.first + c.ticks(sendAt.Sub(c.start)))
	return sendAt, c.last
}

// after returns ts, or the timestamp just after the last one sent when ts
// would not move forward.
func (c *catchUp) after(ts uint32) uint32 {
	if int32(ts-c.last) <= 0 {
		return c.last + 1
	}
	return ts
}
