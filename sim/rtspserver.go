package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/auth"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
)

// rtspMount is where the simulated controller serves its camera, as the
// Cloud API docs' example reply does (rtsp://…/live/1, docs/dji-cloud-api.md, "url formats per url_type").
const rtspMount = "/live/1"

// rtspServerPusher is url_type 2: the remote controller runs an RTSP
// server guarded by the url's userName and password, on its port, serves
// the camera there, and replies with the URL for the cloud to pull. Media
// flows only while someone plays it.
type rtspServerPusher struct {
	req        pushRequest
	user, pass string
	srv        *gortsplib.Server
	stream     *gortsplib.ServerStream
	media      *description.Media
	track      *format.H264
	enc        *rtph264.Encoder
	replyURL   string
	cancel     context.CancelFunc
	done       chan struct{}
}

func (p *rtspServerPusher) start(ctx context.Context, req pushRequest) error {
	q, err := url.ParseQuery(req.url)
	user, pass, port := q.Get("userName"), q.Get("password"), q.Get("port")
	if err != nil || user == "" || port == "" {
		return &pushError{reason: reasonBadURL, err: fmt.Errorf("url_type 2 wants userName=…&password=…&port=…")}
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return &pushError{reason: reasonBadURL, err: fmt.Errorf("invalid port %q", port)}
	}
	p.req, p.user, p.pass = req, user, pass
	listen := req.rtspListen
	if listen == "" {
		listen = ":" + port
	}
	p.track = &format.H264{PayloadTyp: 96, SPS: req.clip.sps, PPS: req.clip.pps, PacketizationMode: 1}
	p.media = &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{p.track}}
	p.srv = &gortsplib.Server{Handler: p, RTSPAddress: listen, AuthMethods: []auth.VerifyMethod{auth.VerifyMethodBasic}}
	if err := p.srv.Start(); err != nil {
		return &pushError{reason: reasonUnreachable, err: fmt.Errorf("cannot run the RTSP server: %w", err)}
	}
	p.stream = &gortsplib.ServerStream{Server: p.srv, Desc: &description.Session{Medias: []*description.Media{p.media}}}
	if err := p.stream.Initialize(); err != nil {
		p.srv.Close()
		return &pushError{reason: reasonUnknownFailure, err: err}
	}
	if p.enc, err = p.track.CreateEncoder(); err != nil {
		p.stream.Close()
		p.srv.Close()
		return &pushError{reason: reasonUnknownFailure, err: err}
	}
	host, bound, _ := net.SplitHostPort(p.srv.NetListener().Addr().String())
	if req.rtspHost != "" {
		host = req.rtspHost
	} else if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = lanAddress()
	}
	u := url.URL{Scheme: "rtsp", User: url.UserPassword(user, pass), Host: net.JoinHostPort(host, bound), Path: rtspMount}
	p.replyURL = u.String()
	req.log.Info("rtsp server up", "address", net.JoinHostPort(host, bound), "mount", rtspMount)

	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	go p.run(ctx)
	return nil
}

func (p *rtspServerPusher) output() string { return p.replyURL }

// lanAddress is the address a controller listening on every interface
// names in its reply: its first non-loopback IPv4 address, as an RC on
// Wi-Fi would, or 127.0.0.1 on a machine without one.
func lanAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

func (p *rtspServerPusher) stop() {
	p.cancel()
	<-p.done
	p.stream.Close()
	p.srv.Close()
}

// run paces the clip's access units into the stream in real time, looped,
// pausing for media gaps (the server stays up, as a controller whose
// camera feed stalls).
func (p *rtspServerPusher) run(ctx context.Context) {
	defer close(p.done)
	clip := p.req.clip
	start := time.Now()
	base := rand.Uint32()
	timer := time.NewTimer(0)
	defer timer.Stop()
	next := 0
	for n := int64(0); ; n++ {
		pts := time.Duration(n) * clip.frameDur
		timer.Reset(time.Until(start.Add(pts)))
		select {
		case <-ctx.Done():
			return
		case gap := <-p.req.gap:
			p.req.log.Info("media gap: stopped serving frames", "for", gap)
			if !sleepCtx(ctx, gap) {
				return
			}
			start, n = time.Now(), -1
			next = nextKeyframe(clip, next)
			p.req.onResumed()
			continue
		case <-timer.C:
		}
		pkts, err := p.enc.Encode(clip.aus[next])
		if err == nil {
			ts := base + uint32(pts*90000/time.Second)
			for _, pkt := range pkts {
				pkt.Timestamp = ts
				_ = p.stream.WritePacketRTP(p.media, pkt)
			}
		}
		next = (next + 1) % len(clip.aus)
	}
}

// check verifies the credentials the cloud was given (Basic, RFC 2617).
func (p *rtspServerPusher) check(c *gortsplib.ServerConn, req *base.Request, path string) (*base.Response, error) {
	if !c.VerifyCredentials(req, p.user, p.pass) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
	}
	if path != rtspMount {
		return &base.Response{StatusCode: base.StatusNotFound}, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (p *rtspServerPusher) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	res, err := p.check(ctx.Conn, ctx.Request, ctx.Path)
	if res.StatusCode != base.StatusOK {
		return res, nil, err
	}
	return res, p.stream, nil
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (p *rtspServerPusher) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	res, err := p.check(ctx.Conn, ctx.Request, ctx.Path)
	if res.StatusCode != base.StatusOK {
		return res, nil, err
	}
	return res, p.stream, nil
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (p *rtspServerPusher) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	p.req.log.Info("rtsp server: the cloud is pulling")
	return &base.Response{StatusCode: base.StatusOK}, nil
}
