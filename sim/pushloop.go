package sim

import (
	"context"
	"time"

	"github.com/skyrelay/skyrelay/internal/h264clip"
)

// pushLoop runs a connection-based pusher (RTMP, WHIP) until ctx ends:
// stream media on conn; after a media gap wait it out, after a break report
// congestion; then reconnect with a doubling back-off up to retryMax and
// start again at a keyframe, as an encoder restarting does. proto names the
// pusher in logs. done is closed on return.
func pushLoop[C any](ctx context.Context, req pushRequest, proto string, retryMax time.Duration, conn C,
	connect func(context.Context) (C, error),
	stream func(context.Context, C, int) (int, time.Duration),
	closeConn func(C), done chan struct{},
) {
	defer close(done)
	log := req.log
	next := 0 // index of the next access unit in the clip
	for {
		var gap time.Duration
		next, gap = stream(ctx, conn, next)
		closeConn(conn)
		if ctx.Err() != nil {
			return
		}
		if gap > 0 {
			log.Info("media gap: stopped pushing", "for", gap)
			if !sleepCtx(ctx, gap) {
				return
			}
		} else {
			req.onHealth(reasonCongestion)
		}
		next = nextKeyframe(req.clip, next)
		for wait := 500 * time.Millisecond; ; wait = min(wait*2, retryMax) {
			var err error
			if conn, err = connect(ctx); err == nil {
				break
			}
			log.Warn(proto+" reconnect failed", "err", err, "retry_in", wait)
			if !sleepCtx(ctx, wait) {
				return
			}
		}
		log.Info(proto + " push reconnected")
		req.onHealth(0)
		req.onResumed()
	}
}

// pace hands the clip's access units to write in real time from clip index
// next (n counts units from this call's start, pts is their time). It
// returns the index to continue from and, if a media gap was asked for, its
// length; gap 0 means write failed, broken fired or ctx ended.
func pace(ctx context.Context, req pushRequest, next int, broken <-chan struct{}, onBroken func(),
	write func(n int64, pts time.Duration, au [][]byte) error,
) (int, time.Duration) {
	clip := req.clip
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for n := int64(0); ; n++ {
		pts := time.Duration(n) * clip.frameDur
		timer.Reset(time.Until(start.Add(pts)))
		select {
		case <-ctx.Done():
			return next, 0
		case gap := <-req.gap:
			return next, gap
		case <-broken:
			onBroken()
			return next, 0
		case <-timer.C:
		}
		if err := write(n, pts, clip.aus[next]); err != nil {
			return next, 0
		}
		next = (next + 1) % len(clip.aus)
	}
}

// nextKeyframe returns the index of the first keyframe at or after i,
// wrapping around the clip.
func nextKeyframe(c *clip, i int) int {
	for k := range c.aus {
		j := (i + k) % len(c.aus)
		if h264clip.IsIDR(c.aus[j]) {
			return j
		}
	}
	return 0
}

// sleepCtx sleeps for d and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
