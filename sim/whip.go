package sim

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/webrtc/whipclient"
)

const (
	whipConnectTimeout = 15 * time.Second
	whipRetryMax       = 5 * time.Second
)

// whipPusher is url_type 4: like current DJI firmware it accepts only a
// URL in SRS's form (/rtc/v1/whip/?app=A&stream=S), then it POSTs an SDP offer with one H.264 track to
// the WHIP URL (RFC 9725), connects over ICE/DTLS-SRTP and sends the clip
// in real time. A broken connection is reported as congestion and
// published again, as a device on a bad link does.
type whipPusher struct {
	req    pushRequest
	u      *url.URL
	cancel context.CancelFunc
	done   chan struct{}
}

func (p *whipPusher) start(ctx context.Context, req pushRequest) error {
	u, err := url.Parse(req.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &pushError{reason: reasonBadURL, err: fmt.Errorf("not an http(s):// WHIP URL: %s", conf.RedactURL(req.url))}
	}
	if !strings.Contains(u.Path, "/rtc/v1/whip/") {
		// As DJI Dock firmware 17.01.0506 does (ZLMediaKit#4743): a WHIP
		// url must be in SRS's form, /rtc/v1/whip/?app=A&stream=S.
		return &pushError{reason: reasonBadURL, err: fmt.Errorf("the WHIP URL's path lacks /rtc/v1/whip/: %s", conf.RedactURL(req.url))}
	}
	p.u, p.req = u, req
	c, err := p.connect(ctx)
	if err != nil {
		return &pushError{reason: reasonUnreachable, err: err}
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	// Closing the client DELETEs the session: it ends on Skyrelay at once.
	go pushLoop(ctx, req, "whip", whipRetryMax, c, p.connect, p.stream, (*whipclient.Client).Close, p.done)
	return nil
}

func (p *whipPusher) stop() {
	p.cancel()
	<-p.done
}

// connect publishes once. Candidates are gathered on loopback only when
// the WHIP server is on loopback (tests), on every interface otherwise.
func (p *whipPusher) connect(ctx context.Context) (*whipclient.Client, error) {
	ip := net.ParseIP(p.u.Hostname())
	c := &whipclient.Client{URL: p.req.url, AllInterfaces: ip == nil || !ip.IsLoopback()}
	cctx, cancel := context.WithTimeout(ctx, whipConnectTimeout)
	defer cancel()
	if err := c.Start(cctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// stream paces access units into c from clip index next until the
// connection fails, a gap is asked for, or ctx ends (see pace).
func (p *whipPusher) stream(ctx context.Context, c *whipclient.Client, next int) (int, time.Duration) {
	broken := func() { p.req.log.Warn("whip push broken: the connection failed") }
	return pace(ctx, p.req, next, c.Failed(), broken, func(_ int64, _ time.Duration, au [][]byte) error {
		return c.WriteVideo(au, p.req.clip.frameDur)
	})
}
