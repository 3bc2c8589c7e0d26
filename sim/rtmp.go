package sim

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/skyrelay/skyrelay/internal/h264clip"
)

const (
	rtmpConnectTimeout = 10 * time.Second
	rtmpWriteTimeout   = 5 * time.Second
	rtmpRetryMax       = 5 * time.Second
)

// rtmpPusher publishes the clip to an RTMP URL (url_type 1) in real time,
// looped with continuous timestamps. When the connection breaks it reports
// congestion and reconnects to the same URL, as a device on a bad link does.
type rtmpPusher struct {
	u      *url.URL
	req    pushRequest
	track  *format.H264
	cancel context.CancelFunc
	done   chan struct{}
}

func (p *rtmpPusher) start(ctx context.Context, req pushRequest) error {
	u, err := url.Parse(req.url)
	if err != nil || (u.Scheme != "rtmp" && u.Scheme != "rtmps") || u.Host == "" {
		return &pushError{reason: reasonBadURL, err: fmt.Errorf("not an rtmp:// URL: %s", redactURL(req.url))}
	}
	if u.Port() == "" {
		u.Host += map[string]string{"rtmp": ":1935", "rtmps": ":443"}[u.Scheme]
	}
	p.u, p.req = u, req
	p.track = &format.H264{PayloadTyp: 96, SPS: req.clip.sps, PPS: req.clip.pps, PacketizationMode: 1}

	cctx, cancel := context.WithTimeout(ctx, rtmpConnectTimeout)
	conn, err := p.connect(cctx)
	cancel()
	if err != nil {
		return &pushError{reason: reasonUnreachable, err: err}
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	go p.run(ctx, conn)
	return nil
}

func (p *rtmpPusher) stop() {
	p.cancel()
	<-p.done
}

// connect opens a publishing connection and sends the stream header.
func (p *rtmpPusher) connect(ctx context.Context) (*rtmpPublisher, error) {
	c, err := dialRTMPPublish(ctx, p.u)
	if err != nil {
		return nil, err
	}
	w := &gortmplib.Writer{Conn: c, Tracks: []format.Format{p.track}}
	if err := w.Initialize(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// run sends media until ctx ends, reconnecting after gaps and breaks.
func (p *rtmpPusher) run(ctx context.Context, conn *rtmpPublisher) {
	defer close(p.done)
	log := p.req.log
	next := 0 // index of the next access unit in the clip
	for {
		var gap time.Duration
		next, gap = p.stream(ctx, conn, next)
		conn.Close()
		if ctx.Err() != nil {
			return
		}
		if gap > 0 {
			log.Info("media gap: stopped pushing", "for", gap)
			if !sleepCtx(ctx, gap) {
				return
			}
		} else {
			p.req.onHealth(reasonCongestion)
		}
		// A new connection starts at a keyframe, like an encoder restarting.
		next = nextKeyframe(p.req.clip, next)
		var err error
		for wait := 500 * time.Millisecond; ; wait = min(wait*2, rtmpRetryMax) {
			cctx, cancel := context.WithTimeout(ctx, rtmpConnectTimeout)
			conn, err = p.connect(cctx)
			cancel()
			if err == nil {
				break
			}
			log.Warn("rtmp reconnect failed", "err", err, "retry_in", wait)
			if !sleepCtx(ctx, wait) {
				return
			}
		}
		log.Info("rtmp push reconnected")
		p.req.onHealth(0)
		p.req.onResumed()
	}
}

// stream paces access units onto conn from clip index next. It returns the
// index to continue from and, if a media gap was asked for, its length; it
// returns with gap 0 when the connection broke or ctx ended.
func (p *rtmpPusher) stream(ctx context.Context, conn *rtmpPublisher, next int) (int, time.Duration) {
	clip := p.req.clip
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for n := int64(0); ; n++ {
		pts := time.Duration(n) * clip.frameDur
		timer.Reset(time.Until(start.Add(pts)))
		select {
		case <-ctx.Done():
			return next, 0
		case gap := <-p.req.gap:
			return next, gap
		case <-timer.C:
		}
		au := clip.aus[next]
		if p.req.quirks {
			au = withQuirks(au, n)
		}
		if err := writeH264(conn, pts, au); err != nil {
			if ctx.Err() == nil {
				p.req.log.Warn("rtmp push broken", "err", err)
			}
			return next, 0
		}
		next = (next + 1) % len(clip.aus)
	}
}

// writeH264 sends one access unit as an FLV video tag. It does not use
// gortmplib.Writer.WriteH264, which cannot take the empty NAL units that the
// quirks add (real DJI devices send them).
func writeH264(c *rtmpPublisher, pts time.Duration, au [][]byte) error {
	avcc, err := h264.AVCC(au).Marshal()
	if err != nil {
		return err
	}
	return c.Write(&message.Video{
		ChunkStreamID:   message.VideoChunkStreamID,
		MessageStreamID: 0x1000000,
		Codec:           message.CodecH264,
		IsKeyFrame:      h264clip.IsIDR(au),
		Type:            message.VideoTypeAU,
		Payload:         avcc,
		DTS:             pts,
	})
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
