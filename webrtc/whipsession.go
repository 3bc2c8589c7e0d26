package webrtc

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/skyrelay/skyrelay/gateway"
)

// whipSession is one WHIP publisher: a PeerConnection whose incoming RTP
// feeds a gateway.Publisher without decoding (the core depacketises once
// and repacketises for every output). It lives until the publisher leaves
// (DELETE, ICE consent lost), or the server closes; the stream then keeps
// its readers for the hub's reconnect grace.
type whipSession struct {
	session
	pub  *gateway.Publisher
	plan *whipPlan

	// t0 is the arrival of the session's first packet: each track's
	// timeline starts at its own first packet's offset from it, which keeps
	// audio and video roughly in step without waiting for sender reports.
	t0Once  sync.Once
	t0      time.Time
	packets atomic.Uint64
	bytes   atomic.Uint64
	lastKey atomic.Int64 // UnixNano of the last keyframe's first packet
	plis    atomic.Uint64
	readers sync.WaitGroup
}

// startWHIP publishes the plan's tracks on path, answers the offer and
// starts the session. A path with a live publisher refuses with
// gateway.ErrPathBusy before any PeerConnection exists.
func (s *Server) startWHIP(ctx context.Context, path, remote string, pl *whipPlan, offerSDP string) (*whipSession, string, error) {
	pub, err := s.Hub.Publish(path, gateway.SourceInfo{Protocol: "whip", RemoteAddr: remote}, pl.tracks)
	if err != nil {
		if err == gateway.ErrPathBusy {
			return nil, "", err
		}
		return nil, "", refuse(http.StatusBadRequest, "publish_failed", "cannot publish %s: %v", path, err)
	}
	p, err := s.net.newPeer(pl.codecs, false)
	if err != nil {
		pub.Close()
		return nil, "", err
	}
	x := &whipSession{pub: pub, plan: pl}
	x.init(s, path, remote, p, "whip")
	p.pc.OnTrack(x.onTrack)
	gctx, cancel := context.WithTimeout(ctx, whipAnswerTimeout)
	answer, err := p.answer(gctx, offerSDP)
	cancel()
	if err != nil {
		p.close()
		pub.Close()
		return nil, "", err
	}
	answer = conformAnswer(offerSDP, answer)
	err = x.admit(answer, pl.notes, func() {
		if s.whips == nil {
			s.whips = map[string]*whipSession{}
		}
		s.whips[x.id] = x
	})
	if err != nil {
		p.close()
		pub.Close()
		return nil, "", err
	}
	x.log.Info("WHIP publisher answered", "codecs", pl.describe())
	go x.run()
	return x, answer, nil
}

// conformAnswer removes from pion's answer what the offer did not ask for
// and an answerer may not add: a=rtcp-rsize (RFC 5506 §5: only when the
// offer has it). A device that never offered reduced-size RTCP is not
// surprised by it; Skyrelay's RTCP stays compound-compatible anyway.
func conformAnswer(offer, answer string) string {
	if strings.Contains(offer, "a=rtcp-rsize") {
		return answer
	}
	lines := strings.SplitAfter(answer, "\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.TrimSpace(l) == "a=rtcp-rsize" {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

func (pl *whipPlan) describe() string {
	var out []string
	for _, c := range pl.codecs {
		out = append(out, fmt.Sprintf("%s/%d", strings.ToLower(c.params.MimeType), c.params.PayloadType))
	}
	return strings.Join(out, ",")
}

func (s *Server) whipSession(id string) *whipSession { return sessionByID(&s.mu, &s.whips, id) }

func (s *Server) forgetWHIP(id string) { forgetSession(&s.mu, &s.whips, id) }

// whipSessions lists the open WHIP sessions (for Close).
func (s *Server) whipSessions() []*whipSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Values(s.whips))
}

// WHIPCount is the number of WHIP sessions, connected or connecting.
func (s *Server) WHIPCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.whips)
}

func (x *whipSession) run() {
	defer x.srv.wg.Done()
	defer close(x.done)
	defer x.srv.forgetWHIP(x.id)

	t := time.NewTimer(x.srv.HandshakeTimeout)
	select {
	case <-x.peer.connected:
		x.log.Info("WHIP publisher connected", "pair", x.selectedPair(), "after", time.Since(x.created).Round(time.Millisecond))
		select {
		case <-x.peer.gone:
			x.stop("connection closed or lost")
		case <-x.stopCh:
		}
	case <-x.peer.gone:
		x.stop("connection failed before it was established")
	case <-t.C:
		x.stop(fmt.Sprintf("ICE/DTLS not connected within %s: check the announced addresses %v", x.srv.HandshakeTimeout, x.srv.ICEAddresses()))
	case <-x.stopCh:
	}
	t.Stop()
	x.peer.close()
	x.readers.Wait()
	x.pub.Close()
	x.log.Info("WHIP publisher ended", "reason", x.endReason(), "duration", time.Since(x.created).Round(time.Millisecond),
		"packets", x.packets.Load(), "bytes", x.bytes.Load(), "plis", x.plis.Load())
}

// selectedPair describes the nominated candidate pair, for logs (peer's
// own looks at senders, which a receiving peer has none of).
func (x *whipSession) selectedPair() string {
	for _, r := range x.peer.pc.GetReceivers() {
		if t := r.Transport(); t != nil {
			if cp, err := t.ICETransport().GetSelectedCandidatePair(); err == nil && cp != nil {
				return fmt.Sprintf("%s %s:%d <-> %s:%d", cp.Local.Protocol, cp.Local.Address, cp.Local.Port, cp.Remote.Address, cp.Remote.Port)
			}
		}
	}
	return ""
}

// trackIndex maps an incoming track to its index in the stream.
func (x *whipSession) trackIndex(kind pion.RTPCodecType) (int, *gateway.Track) {
	for i, t := range x.plan.tracks {
		if t.Codec.IsVideo() == (kind == pion.RTPCodecTypeVideo) {
			return i, t
		}
	}
	return -1, nil
}

// onTrack reads one incoming track until the connection ends.
func (x *whipSession) onTrack(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
	idx, t := x.trackIndex(tr.Kind())
	if idx < 0 {
		x.log.Info("WHIP publisher sent an unexpected track; ignored", "kind", tr.Kind().String(), "codec", tr.Codec().MimeType)
		return
	}
	x.readers.Add(1)
	defer x.readers.Done()
	if t.Codec.IsVideo() {
		go x.askKeyframes(uint32(tr.SSRC()))
	}
	tl := rtpTimeline{clock: int64(t.ClockRate())}
	video, h265 := t.Codec.IsVideo(), t.Codec == gateway.CodecH265
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		now := time.Now()
		x.t0Once.Do(func() { x.t0 = now })
		n := pkt.MarshalSize()
		x.packets.Add(1)
		x.bytes.Add(uint64(n))
		x.pub.AddBytes(n)
		if video && isKeyStart(pkt.Payload, h265) {
			x.lastKey.Store(now.UnixNano())
		}
		x.pub.WriteRTP(idx, pkt, tl.pts(pkt, now.Sub(x.t0)))
	}
}

// askKeyframes sends PLIs (RFC 4585 §6.3.1) so that viewers never wait
// long for a keyframe: every second until the stream is playable, when a
// reader joins (the core replays the GOP since the last keyframe, which
// for a browser that sends keyframes only on request can be minutes
// long), and whenever the last keyframe is older than keyframeMaxAge while
// someone watches. DJI devices send one every 2–3 s anyway.
func (x *whipSession) askKeyframes(ssrc uint32) {
	if !x.plan.pli() {
		return
	}
	st := x.pub.Stream()
	ready := st.Ready()
	var lastPLI time.Time
	send := func() {
		if time.Since(lastPLI) < minPLIInterval {
			return
		}
		// A compound packet (RFC 3550 §6.1: a report first), since
		// reduced-size RTCP is not negotiated (conformAnswer).
		if err := x.peer.pc.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverReport{}, &rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err == nil {
			x.plis.Add(1)
			lastPLI = time.Now()
		}
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	readers := 0
	for {
		select {
		case <-x.stopCh:
			return
		case <-x.peer.gone:
			return
		case <-tick.C:
		}
		select {
		case <-ready:
		default:
			send()
			continue
		}
		n := len(st.Readers())
		last := time.Unix(0, x.lastKey.Load())
		if n > readers || n > 0 && time.Since(last) > keyframeMaxAge {
			send()
		}
		readers = n
	}
}

// Keyframe requests: at most one per minPLIInterval, and one whenever
// viewers are attached and the last keyframe is older than keyframeMaxAge.
const (
	minPLIInterval = time.Second
	keyframeMaxAge = 3 * time.Second
)

// isKeyStart tells whether an RTP payload starts a keyframe: an IDR (H.264)
// or IRAP (H.265) NAL unit or a parameter set, alone, aggregated or in a
// first fragment (RFC 6184 §5.7, RFC 7798 §4.4).
func isKeyStart(b []byte, h265 bool) bool {
	if h265 {
		key := func(t byte) bool { return t >= 16 && t <= 21 || t == 32 || t == 33 }
		if len(b) < 3 {
			return false
		}
		switch t := b[0] >> 1 & 0x3f; {
		case key(t):
			return true
		case t == 48:
			for i := 2; i+2 < len(b); {
				n := int(b[i])<<8 | int(b[i+1])
				if key(b[i+2] >> 1 & 0x3f) {
					return true
				}
				i += 2 + n
			}
		case t == 49:
			return b[2]&0x80 != 0 && key(b[2]&0x3f)
		}
		return false
	}
	key := func(t byte) bool { return t == 5 || t == 7 }
	if len(b) < 2 {
		return false
	}
	switch t := b[0] & 0x1f; {
	case key(t):
		return true
	case t == 24:
		for i := 1; i+2 < len(b); {
			n := int(b[i])<<8 | int(b[i+1])
			if key(b[i+2] & 0x1f) {
				return true
			}
			i += 2 + n
		}
	case t == 28:
		return b[1]&0x80 != 0 && b[1]&0x1f == 5
	}
	return false
}

// pli tells whether the publisher accepts PLI for its video.
func (pl *whipPlan) pli() bool {
	for _, c := range pl.codecs {
		for _, f := range c.params.RTCPFeedback {
			if f.Type == "nack" && f.Parameter == "pli" {
				return true
			}
		}
	}
	return false
}

// rtpTimeline turns a track's 32-bit RTP timestamps into a PTS that starts
// at the track's first packet (placed at start, its offset from the
// session's first packet) and never wraps.
type rtpTimeline struct {
	clock   int64
	started bool
	last    uint32
	acc     int64
}

func (tl *rtpTimeline) pts(pkt *rtp.Packet, sinceStart time.Duration) int64 {
	if !tl.started {
		tl.started, tl.last = true, pkt.Timestamp
		tl.acc = int64(sinceStart) * tl.clock / int64(time.Second)
		return tl.acc
	}
	// The signed difference handles wrap-around and reordered packets
	// (RFC 3550 §5.1: timestamps are modulo 2^32).
	tl.acc += int64(int32(pkt.Timestamp - tl.last))
	tl.last = pkt.Timestamp
	return tl.acc
}
