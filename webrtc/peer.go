package webrtc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	pion "github.com/pion/webrtc/v4"
)

// peer is one PeerConnection and the events its owner waits for. It is the
// part WHEP and WHIP sessions share.
type peer struct {
	pc     *pion.PeerConnection
	counts *rtcpCounts

	connected chan struct{} // closed when ICE and DTLS are up
	gone      chan struct{} // closed when the connection failed or closed
	connOnce  sync.Once
	goneOnce  sync.Once
	drains    sync.WaitGroup

	// udpRemote is the viewer's address while the selected candidate pair
	// is UDP, nil otherwise: where a WHEP forwarder corks (batchconn.go).
	udpRemote atomic.Pointer[netip.AddrPort]
}

// newPeer makes a PeerConnection on the shared sockets whose MediaEngine
// knows exactly codecs. A sending peer (WHEP) gets NACK answers and RTCP
// sender reports (which browsers need for audio/video sync); no congestion
// control and no header extensions, since Skyrelay cannot change the
// bitrate of a drone's stream anyway. A receiving peer (WHIP) sends RTCP
// receiver reports (RFC 3550 §6.4.2), without which Chrome's send-side
// congestion control starves the encoder to a few packets a second.
func (n *iceNet) newPeer(codecs []codecReg, send bool) (*peer, error) {
	me := &pion.MediaEngine{}
	for _, c := range codecs {
		if err := me.RegisterCodec(c.params, c.kind); err != nil {
			return nil, err
		}
	}
	p := &peer{counts: &rtcpCounts{}, connected: make(chan struct{}), gone: make(chan struct{})}
	ir := &interceptor.Registry{}
	if send {
		ir.Add(nackFactory{counts: p.counts})
		sr, err := report.NewSenderInterceptor(report.SenderLog(n.logs.NewLogger("sr")))
		if err != nil {
			return nil, err
		}
		ir.Add(sr)
	} else {
		rr, err := report.NewReceiverInterceptor(report.ReceiverLog(n.logs.NewLogger("rr")))
		if err != nil {
			return nil, err
		}
		ir.Add(rr)
	}
	api := pion.NewAPI(pion.WithSettingEngine(n.settingEngine()), pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir))
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return nil, err
	}
	p.pc = pc
	pc.SCTP().Transport().ICETransport().OnSelectedCandidatePairChange(p.pairSelected)
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		switch s {
		case pion.PeerConnectionStateConnected:
			p.connOnce.Do(func() { close(p.connected) })
		case pion.PeerConnectionStateFailed, pion.PeerConnectionStateClosed:
			p.goneOnce.Do(func() { close(p.gone) })
		}
	})
	return p, nil
}

// addSendTrack adds a send-only transceiver for t and drains its RTCP,
// which is what drives the NACK responder and the sender reports.
func (p *peer) addSendTrack(t *sendTrack, streamID string) (*pion.TrackLocalStaticRTP, error) {
	id := "video"
	if t.kind == pion.RTPCodecTypeAudio {
		id = "audio"
	}
	local, err := pion.NewTrackLocalStaticRTP(t.params.RTPCodecCapability, id, streamID)
	if err != nil {
		return nil, err
	}
	tr, err := p.pc.AddTransceiverFromTrack(local, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, err
	}
	sender := tr.Sender()
	p.drains.Add(1)
	go func() {
		defer p.drains.Done()
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	return local, nil
}

// answer applies an offer and returns the answer once ICE gathering has
// completed, with every candidate in it: a non-trickle answer, so a client
// never needs a PATCH to connect.
func (p *peer) answer(ctx context.Context, offer string) (string, error) {
	if err := p.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: offer}); err != nil {
		return "", refuse(http.StatusBadRequest, "invalid_sdp", "invalid SDP offer: %v", err)
	}
	ans, err := p.pc.CreateAnswer(nil)
	if err != nil {
		if errors.Is(err, pion.ErrSenderWithNoCodecs) {
			return "", refuse(http.StatusNotAcceptable, "codec_not_supported", "codecs not supported by client: %v", err)
		}
		return "", refuse(http.StatusBadRequest, "invalid_sdp", "cannot answer this offer: %v", err)
	}
	gathered := pion.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(ans); err != nil {
		return "", fmt.Errorf("set local description: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("gathering ICE candidates: %w", ctx.Err())
	}
	return p.pc.LocalDescription().SDP, nil
}

// remoteUfrag is the ICE username fragment of the applied offer.
func (p *peer) remoteUfrag() string {
	d := p.pc.RemoteDescription()
	if d == nil {
		return ""
	}
	for _, line := range strings.Split(d.SDP, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}

// selectedPair describes the nominated candidate pair, for logs.
func (p *peer) selectedPair() string {
	for _, s := range p.pc.GetSenders() {
		if t := s.Transport(); t != nil {
			if cp, err := t.ICETransport().GetSelectedCandidatePair(); err == nil && cp != nil {
				return fmt.Sprintf("%s %s:%d <-> %s:%d", cp.Local.Protocol, cp.Local.Address, cp.Local.Port, cp.Remote.Address, cp.Remote.Port)
			}
		}
	}
	return ""
}

// pairSelected keeps udpRemote up to date. pion calls it when the
// controlling side (the browser) nominates a pair, and again if it
// nominates another one.
func (p *peer) pairSelected(cp *pion.ICECandidatePair) {
	if cp == nil || cp.Remote == nil || cp.Remote.Protocol != pion.ICEProtocolUDP {
		p.udpRemote.Store(nil)
		return
	}
	a, err := netip.ParseAddr(cp.Remote.Address)
	if err != nil {
		p.udpRemote.Store(nil)
		return
	}
	ap := netip.AddrPortFrom(a.Unmap(), cp.Remote.Port)
	p.udpRemote.Store(&ap)
}

// close ends the connection and waits for its goroutines.
func (p *peer) close() {
	_ = p.pc.GracefulClose()
	p.goneOnce.Do(func() { close(p.gone) })
	p.drains.Wait()
}

// refusal is a request the server understood and cannot serve: it carries
// the HTTP status and the API error code, and its message tells the user
// what to do instead.
type refusal struct {
	status  int
	code    string
	message string
}

func (r *refusal) Error() string { return r.message }

func refuse(status int, code, format string, args ...any) *refusal {
	return &refusal{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// codecReg is a codec a peer's MediaEngine knows. Every peer gets exactly
// the codecs it uses, with the payload types the browser offered, so the
// answer carries nothing the browser did not ask for.
type codecReg struct {
	kind   pion.RTPCodecType
	params pion.RTPCodecParameters
}
