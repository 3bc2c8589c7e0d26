// Package whepclient is a WHEP viewer for tests and benchmarks: it
// negotiates like a browser (recvonly H.264, optionally H.265, Opus and
// G.711), connects with pion, and counts what arrives without decoding it.
// A hundred of them on one stream cost little more than their sockets.
//
//	c := &whepclient.Client{URL: "http://127.0.0.1:8080/live/a/whep"}
//	if err := c.Start(ctx); err != nil { ... }
//	defer c.Close()
//	err := c.WaitVideoFrames(ctx, 30)
package whepclient

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/skyrelay/skyrelay/webrtc/internal/signal"
)

// Client is one WHEP viewer.
type Client struct {
	// URL is the WHEP endpoint, e.g. http://127.0.0.1:8080/live/a/whep.
	URL string
	// HTTP is the client used for signalling (http.DefaultClient if nil).
	HTTP *http.Client
	// Token is sent as a bearer token when set; User/Pass as Basic auth.
	Token, User, Pass string
	// H265 offers H.265 next to H.264, as Chrome does with a hardware
	// decoder.
	H265 bool
	// NoH264 leaves H.264 out of the offer.
	NoH264 bool
	// NoAudio offers a video section only.
	NoAudio bool
	// TCP restricts ICE to TCP (active candidates toward the server's
	// passive ones), to exercise the shared TCP port.
	TCP bool
	// AllInterfaces gathers candidates on every interface; by default the
	// client uses loopback only, which is where tests and benchmarks run.
	AllInterfaces bool
	// NoNACK leaves the NACK generator out. Load tests set it: a hundred
	// viewers saturating the machine they share with Skyrelay drop
	// packets themselves, and their NACKs would add retransmissions of
	// that self-inflicted loss to Skyrelay's measured cost.
	NoNACK bool
	// OnPacket, when set, sees every RTP packet in the track's goroutine.
	OnPacket func(kind string, p *rtp.Packet)

	pc       *webrtc.PeerConnection
	location string
	etag     string
	answer   string

	mu        sync.Mutex
	stats     Stats
	frames    chan struct{} // signalled on every video frame
	connected chan struct{}
	failed    chan struct{}
	readers   sync.WaitGroup
}

// Stats is what arrived so far.
type Stats struct {
	VideoCodec, AudioCodec string // MIME types negotiated
	VideoPackets           int
	VideoBytes             int
	VideoFrames            int // marker bits seen
	VideoKeyframes         int // frames that start with a keyframe
	AudioPackets           int
	// Lost counts sequence-number gaps over both tracks.
	Lost int
	// TimestampBackwards counts video frames whose RTP timestamp did not
	// move forward: a sender bug a browser would show as stutter.
	TimestampBackwards int
	Answered           time.Time // when the 201 arrived
	Connected          time.Time
	FirstVideoPacket   time.Time
	FirstKeyframe      time.Time
	LastVideoPacket    time.Time
	// VideoTimestamps are the RTP timestamps of the first frames (up to
	// 1024), to check a sender's timing.
	VideoTimestamps []uint32
	FrameArrivals   []time.Time
}

// HTTPError is a signalling answer other than the expected one.
type HTTPError = signal.HTTPError

func (c *Client) endpoint() signal.Endpoint {
	return signal.Endpoint{Kind: "WHEP", HTTP: c.HTTP, Token: c.Token, User: c.User, Pass: c.Pass}
}

func (c *Client) api() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	var video []webrtc.RTPCodecParameters
	if !c.NoH264 {
		// Chrome's H.264 entries with packetization-mode=1.
		for i, plid := range []string{"42001f", "42e01f", "4d001f", "64001f"} {
			video = append(video, webrtc.RTPCodecParameters{
				RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
					SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" + plid, RTCPFeedback: fb},
				PayloadType: webrtc.PayloadType(102 + 2*i),
			})
		}
	}
	if c.H265 {
		video = append(video, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH265, ClockRate: 90000,
				SDPFmtpLine: "level-id=156;profile-id=1;tier-flag=0;tx-mode=SRST", RTCPFeedback: fb},
			PayloadType: 116,
		})
	}
	if len(video) == 0 {
		video = append(video, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb},
			PayloadType:        96,
		})
	}
	for _, v := range video {
		if err := me.RegisterCodec(v, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, err
		}
	}
	for _, a := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
	} {
		if err := me.RegisterCodec(a, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	ir := &interceptor.Registry{}
	if !c.NoNACK {
		if err := webrtc.ConfigureNack(me, ir); err != nil {
			return nil, err
		}
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if c.TCP {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	} else {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	if !c.AllInterfaces {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// Offer builds the client's PeerConnection and returns its complete offer
// (candidates included) without sending it.
func (c *Client) Offer(ctx context.Context) (string, error) {
	api, err := c.api()
	if err != nil {
		return "", err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", err
	}
	c.pc = pc
	c.frames = make(chan struct{}, 1)
	c.connected = make(chan struct{})
	c.failed = make(chan struct{})
	var connOnce, failOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			connOnce.Do(func() {
				c.mu.Lock()
				c.stats.Connected = time.Now()
				c.mu.Unlock()
				close(c.connected)
			})
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			failOnce.Do(func() { close(c.failed) })
		}
	})
	pc.OnTrack(c.onTrack)
	recv := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, recv); err != nil {
		return "", err
	}
	if !c.NoAudio {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, recv); err != nil {
			return "", err
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return pc.LocalDescription().SDP, nil
}

// Start posts the offer, applies the answer and waits until the
// connection is up.
func (c *Client) Start(ctx context.Context) error {
	offer, err := c.Offer(ctx)
	if err != nil {
		return err
	}
	return c.StartWithOffer(ctx, offer)
}

// StartWithOffer is Start with an offer the caller made (or edited) from
// Offer.
func (c *Client) StartWithOffer(ctx context.Context, offer string) error {
	a, err := c.endpoint().Offer(ctx, c.URL, offer)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(a.ContentType, "application/sdp") {
		return fmt.Errorf("answer has Content-Type %q, want application/sdp", a.ContentType)
	}
	c.mu.Lock()
	c.stats.Answered = time.Now()
	c.mu.Unlock()
	c.location, c.etag, c.answer = a.Location.String(), a.ETag, a.SDP
	return signal.Connect(ctx, c.pc, c.answer, c.connected, c.failed)
}

// Location is the session URL from the 201.
func (c *Client) Location() string { return c.location }

// ETag is the session's entity tag from the 201.
func (c *Client) ETag() string { return c.etag }

// Answer is the server's SDP answer.
func (c *Client) Answer() string { return c.answer }

// PeerConnection is the client's pion PeerConnection.
func (c *Client) PeerConnection() *webrtc.PeerConnection { return c.pc }

// Failed is closed when the connection failed or closed.
func (c *Client) Failed() <-chan struct{} { return c.failed }

// Patch sends an SDP fragment to the session (trickle ICE) and returns the
// HTTP status.
func (c *Client) Patch(ctx context.Context, frag, ifMatch string) (int, error) {
	return c.endpoint().Patch(ctx, c.location, frag, ifMatch)
}

// Delete ends the session on the server (DELETE on its Location) and
// returns the HTTP status.
func (c *Client) Delete(ctx context.Context) (int, error) {
	return c.endpoint().Delete(ctx, c.location)
}

// Close deletes the session (best effort) and closes the connection.
func (c *Client) Close() {
	c.endpoint().Hangup(c.location)
	if c.pc != nil {
		_ = c.pc.Close()
	}
	c.readers.Wait()
}

// Stats returns a copy of the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.VideoTimestamps = append([]uint32(nil), s.VideoTimestamps...)
	s.FrameArrivals = append([]time.Time(nil), s.FrameArrivals...)
	return s
}

// WaitVideoFrames waits until at least n video frames arrived.
func (c *Client) WaitVideoFrames(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		got := c.stats.VideoFrames
		c.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-c.frames:
		case <-c.failed:
			return fmt.Errorf("connection ended after %d of %d video frames", got, n)
		case <-ctx.Done():
			return fmt.Errorf("%d of %d video frames: %w", got, n, ctx.Err())
		}
	}
}

func (c *Client) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	kind := t.Kind().String()
	mime := t.Codec().MimeType
	c.mu.Lock()
	if t.Kind() == webrtc.RTPCodecTypeVideo {
		c.stats.VideoCodec = mime
	} else {
		c.stats.AudioCodec = mime
	}
	c.mu.Unlock()
	h265 := strings.EqualFold(mime, webrtc.MimeTypeH265)
	c.readers.Add(1)
	go func() {
		defer c.readers.Done()
		var lastSeq uint16
		var lastTS, keyTS uint32
		haveSeq, haveTS, haveKey := false, false, false
		for {
			p, _, err := t.ReadRTP()
			if err != nil {
				return
			}
			now := time.Now()
			c.mu.Lock()
			if haveSeq {
				if gap := p.SequenceNumber - lastSeq; gap > 1 && gap < 0x8000 {
					c.stats.Lost += int(gap - 1)
				}
			}
			if !haveSeq || p.SequenceNumber-lastSeq < 0x8000 {
				lastSeq, haveSeq = p.SequenceNumber, true
			}
			if t.Kind() == webrtc.RTPCodecTypeVideo {
				s := &c.stats
				s.VideoPackets++
				s.VideoBytes += len(p.Payload)
				s.LastVideoPacket = now
				if s.FirstVideoPacket.IsZero() {
					s.FirstVideoPacket = now
				}
				if isKeyframeStart(p.Payload, h265) && (!haveKey || p.Timestamp != keyTS) {
					keyTS, haveKey = p.Timestamp, true
					s.VideoKeyframes++
					if s.FirstKeyframe.IsZero() {
						s.FirstKeyframe = now
					}
				}
				if p.Marker {
					s.VideoFrames++
					if haveTS && int32(p.Timestamp-lastTS) <= 0 {
						s.TimestampBackwards++
					}
					lastTS, haveTS = p.Timestamp, true
					if len(s.VideoTimestamps) < 1024 {
						s.VideoTimestamps = append(s.VideoTimestamps, p.Timestamp)
						s.FrameArrivals = append(s.FrameArrivals, now)
					}
				}
			} else {
				c.stats.AudioPackets++
			}
			c.mu.Unlock()
			if p.Marker && t.Kind() == webrtc.RTPCodecTypeVideo {
				select {
				case c.frames <- struct{}{}:
				default:
				}
			}
			if c.OnPacket != nil {
				c.OnPacket(kind, p)
			}
		}
	}()
}

// isKeyframeStart tells whether an RTP payload starts a keyframe: a
// parameter set or an IDR (H.264) / IRAP (H.265) NAL unit, alone, in an
// aggregation packet, or in the first fragment.
func isKeyframeStart(b []byte, h265 bool) bool {
	key265 := func(t byte) bool { return (t >= 16 && t <= 21) || t == 32 || t == 33 }
	key264 := func(t byte) bool { return t == 5 || t == 7 }
	if h265 {
		if len(b) < 3 {
			return false
		}
		switch t := (b[0] >> 1) & 0x3f; {
		case key265(t):
			return true
		case t == 48: // aggregation packet
			for i := 2; i+2 < len(b); {
				n := int(b[i])<<8 | int(b[i+1])
				if key265((b[i+2] >> 1) & 0x3f) {
					return true
				}
				i += 2 + n
			}
		case t == 49: // fragmentation unit
			return b[2]&0x80 != 0 && key265(b[2]&0x3f)
		}
		return false
	}
	if len(b) < 2 {
		return false
	}
	switch t := b[0] & 0x1f; {
	case key264(t):
		return true
	case t == 24: // STAP-A
		for i := 1; i+2 < len(b); {
			n := int(b[i])<<8 | int(b[i+1])
			if key264(b[i+2] & 0x1f) {
				return true
			}
			i += 2 + n
		}
	case t == 28: // FU-A
		return b[1]&0x80 != 0 && b[1]&0x1f == 5
	}
	return false
}
