// Package whipclient is a WHIP publisher (RFC 9725) for tests, benchmarks
// and the device simulator: it offers what a DJI remote controller offers
// (one H.264 video track, optionally Opus audio), connects with pion, and
// sends the access units it is given.
//
//	c := &whipclient.Client{URL: "http://127.0.0.1:8080/live/a/whip?secret=S"}
//	if err := c.Start(ctx); err != nil { ... }
//	defer c.Close()
//	err := c.WriteVideo(nalus, 40*time.Millisecond)
package whipclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/skyrelay/skyrelay/webrtc/internal/signal"
)

// Client is one WHIP publisher.
type Client struct {
	// URL is the WHIP endpoint; a ?secret= in it is sent as is.
	URL string
	// Token is sent as a bearer token when set.
	Token string
	// HTTP is the client used for signalling (http.DefaultClient if nil).
	HTTP *http.Client
	// Audio adds an Opus track (sent only through WriteAudio).
	Audio bool
	// AllInterfaces gathers candidates on every interface; by default the
	// client uses loopback only, which is where tests run.
	AllInterfaces bool

	pc       *webrtc.PeerConnection
	video    *webrtc.TrackLocalStaticSample
	audio    *webrtc.TrackLocalStaticSample
	location string
	answer   string
	offer    string

	plis      atomic.Uint64
	connected chan struct{}
	failed    chan struct{}
	wg        sync.WaitGroup
}

// HTTPError is a signalling answer other than the expected one.
type HTTPError = signal.HTTPError

func (c *Client) endpoint() signal.Endpoint {
	return signal.Endpoint{Kind: "WHIP", HTTP: c.HTTP, Token: c.Token}
}

func (c *Client) api() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}
	// What Chrome and DJI firmware offer: several H.264 profiles, each
	// with both packetization modes.
	for i, fmtp := range []string{
		"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		"level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f",
		"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f",
		"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f",
	} {
		if err := me.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: fmtp, RTCPFeedback: fb},
			PayloadType:        webrtc.PayloadType(102 + 2*i),
		}, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, err
		}
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if !c.AllInterfaces {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// Start builds the PeerConnection, posts the offer, applies the answer
// and waits until the connection is up.
func (c *Client) Start(ctx context.Context) error {
	api, err := c.api()
	if err != nil {
		return err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	c.pc = pc
	c.connected, c.failed = make(chan struct{}), make(chan struct{})
	var connOnce, failOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			connOnce.Do(func() { close(c.connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			failOnce.Do(func() { close(c.failed) })
		}
	})
	c.video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264}, "video", "whipclient")
	if err != nil {
		return err
	}
	if err := c.addSendonly(c.video); err != nil {
		return err
	}
	if c.Audio {
		c.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "whipclient")
		if err != nil {
			return err
		}
		if err := c.addSendonly(c.audio); err != nil {
			return err
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return ctx.Err()
	}
	c.offer = pc.LocalDescription().SDP
	a, err := c.endpoint().Offer(ctx, c.URL, c.offer)
	if err != nil {
		return err
	}
	loc := a.Location
	// The session URL inherits the endpoint's ?secret=, so that a device
	// given one URL can also DELETE.
	if u, err := url.Parse(c.URL); err == nil && loc.RawQuery == "" {
		loc.RawQuery = u.RawQuery
	}
	c.location, c.answer = loc.String(), a.SDP
	return signal.Connect(ctx, pc, c.answer, c.connected, c.failed)
}

func (c *Client) addSendonly(t webrtc.TrackLocal) error {
	tr, err := c.pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return err
	}
	sender := tr.Sender()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if _, ok := p.(*rtcp.PictureLossIndication); ok {
					c.plis.Add(1)
				}
			}
		}
	}()
	return nil
}

// WriteVideo sends one H.264 access unit (NAL units without start codes)
// that lasts d.
func (c *Client) WriteVideo(nalus [][]byte, d time.Duration) error {
	var b []byte
	for _, n := range nalus {
		b = append(b, 0, 0, 0, 1)
		b = append(b, n...)
	}
	return c.video.WriteSample(media.Sample{Data: b, Duration: d})
}

// WriteAudio sends one Opus packet that lasts d.
func (c *Client) WriteAudio(pkt []byte, d time.Duration) error {
	if c.audio == nil {
		return errors.New("whipclient: no audio track (set Audio)")
	}
	return c.audio.WriteSample(media.Sample{Data: pkt, Duration: d})
}

// PLIs counts the keyframe requests the server sent.
func (c *Client) PLIs() uint64 { return c.plis.Load() }

// Offer and Answer are the SDP exchanged.
func (c *Client) Offer() string  { return c.offer }
func (c *Client) Answer() string { return c.answer }

// Location is the session URL from the 201.
func (c *Client) Location() string { return c.location }

// Failed is closed when the connection failed or closed.
func (c *Client) Failed() <-chan struct{} { return c.failed }

// Delete ends the session on the server and returns the HTTP status.
func (c *Client) Delete(ctx context.Context) (int, error) {
	return c.endpoint().Delete(ctx, c.location)
}

// Close deletes the session (best effort) and closes the connection.
func (c *Client) Close() {
	c.endpoint().Hangup(c.location)
	c.location = ""
	if c.pc != nil {
		_ = c.pc.Close()
	}
	c.wg.Wait()
}
