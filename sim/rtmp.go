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

	"github.com/skyrelay/skyrelay/conf"
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
		return &pushError{reason: reasonBadURL, err: fmt.Errorf("not an rtmp:// URL: %s", conf.RedactURL(req.url))}
	}
	if u.Port() == "" {
		u.Host += map[string]string{"rtmp": ":1935", "rtmps": ":443"}[u.Scheme]
	}
	p.u, p.req = u, req
	p.track = &format.H264{PayloadTyp: 96, SPS: req.clip.sps, PPS: req.clip.pps, PacketizationMode: 1}

	conn, err := p.connectTimed(ctx)
	if err != nil {
		return &pushError{reason: reasonUnreachable, err: err}
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	go pushLoop(ctx, req, "rtmp", rtmpRetryMax, conn, p.connectTimed, p.stream, (*rtmpPublisher).Close, p.done)
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

// stream paces access units onto conn from clip index next (see pace).
func (p *rtmpPusher) stream(ctx context.Context, conn *rtmpPublisher, next int) (int, time.Duration) {
	return pace(ctx, p.req, next, nil, nil, func(n int64, pts time.Duration, au [][]byte) error {
		if p.req.quirks {
			au = withQuirks(au, n)
		}
		err := writeH264(conn, pts, au)
		if err != nil && ctx.Err() == nil {
			p.req.log.Warn("rtmp push broken", "err", err)
		}
		return err
	})
}

// connectTimed is connect bounded by rtmpConnectTimeout.
func (p *rtmpPusher) connectTimed(ctx context.Context) (*rtmpPublisher, error) {
	cctx, cancel := context.WithTimeout(ctx, rtmpConnectTimeout)
	defer cancel()
	return p.connect(cctx)
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
