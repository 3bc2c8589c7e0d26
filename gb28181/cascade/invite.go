package cascade

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gb28181/sdp"
)

// Media transports of a session.
const (
	mediaUDP       = "udp"
	mediaTCPDial   = "tcp-active"  // the upstream listens (offer a=setup:passive): we connect
	mediaTCPListen = "tcp-passive" // the upstream connects (offer a=setup:active): we listen
)

// session is one INVITE the upstream made: a dialog and its media sender.
type session struct {
	u       *Upstream
	callID  string
	dlg     *sipgo.DialogServerSession
	ch      channel
	ssrc    uint32
	pt      int // the payload type the offer gave PS
	media   string
	dst     string // host:port of the upstream's media (udp, tcp-active)
	pc      *net.UDPConn
	ln      net.Listener
	stream  *gateway.Stream
	release func()
	invited time.Time

	acked  chan struct{}
	ackOne sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	byBye  atomic.Bool // the upstream hung up
	noAck  atomic.Bool

	snd *sender
}

// Session describes a live INVITE for the API.
type Session struct {
	CallID    string `json:"call_id"`
	ChannelID string `json:"channel_id"`
	Path      string `json:"path"`
	Transport string `json:"transport"`
	SSRC      uint32 `json:"ssrc"`
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
}

// onInvite answers a live INVITE (GB/T 28181-2016 §9.2.2, Annex F): 200
// with an SDP answer that echoes the offer's y= SSRC, a=sendonly, PS on
// payload type 96 and the inverse a=setup; media starts at the ACK.
func (u *Upstream) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	invited := time.Now()
	u.stats.invites.Add(1)
	refuse := func(code int, reason string) {
		u.stats.invitesRefused.Add(1)
		u.respond(tx, req, code, reason)
	}
	o, code := readOffer(req.Body(), func() string { return fmt.Sprintf("0%s%04d", u.gwID[3:8], u.ssrc.Add(1)%10000) })
	if code != 0 {
		refuse(code, reasons[code])
		return
	}
	off, v := o.sdp, o.video
	var err error
	ch, ok := findChannel(u.catalog(), channelOf(req))
	if !ok || ch.Path == "" {
		refuse(404, "Not Found")
		return
	}
	s := &session{u: u, callID: req.CallID().Value(), ch: ch, ssrc: o.ssrc, invited: invited, media: o.media, dst: o.dst,
		pt: psPayloadType(v), acked: make(chan struct{}), done: make(chan struct{})}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 100, "Trying", nil))

	// The stream: live at once, or started on demand within InviteWait.
	ctx, cancel := context.WithTimeout(u.ctx, u.InviteWait)
	defer cancel()
	if u.Starter != nil {
		if s.release, err = u.Starter.Start(ctx, ch.Path); err != nil {
			u.Log.Info("GB28181 upstream INVITE: camera not started", "path", ch.Path, "error", err)
			refuse(480, "Temporarily Unavailable")
			return
		}
	}
	if s.stream, err = u.Hub.Read(ctx, ch.Path); err != nil {
		// The channel is in the catalog but cannot play now (a camera
		// that did not start in time): 480, not 404.
		s.releaseSource()
		u.Log.Info("GB28181 upstream INVITE: stream not playable", "path", ch.Path, "error", err)
		refuse(480, "Temporarily Unavailable")
		return
	}
	port := 9 // RFC 4145: an active TCP end announces the discard port
	switch s.media {
	case mediaUDP:
		s.pc, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(u.listenIP)})
		if err == nil {
			port = s.pc.LocalAddr().(*net.UDPAddr).Port
		}
	case mediaTCPListen:
		// Listen before the 200: the upstream may connect at once.
		s.ln, err = net.Listen("tcp", net.JoinHostPort(u.listenIP, "0"))
		if err == nil {
			port = s.ln.Addr().(*net.TCPAddr).Port
		}
	}
	if err != nil {
		s.releaseSource()
		refuse(500, "Server Internal Error")
		return
	}
	s.dlg, err = u.dlgs.ReadInvite(req, tx)
	if err != nil {
		s.closeMedia()
		s.releaseSource()
		refuse(400, "Bad Request")
		return
	}
	s.ctx, s.cancel = context.WithCancel(u.ctx)
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		s.closeMedia()
		s.releaseSource()
		_ = s.dlg.Respond(503, "Service Unavailable", nil)
		s.dlg.Close()
		return
	}
	if old := u.sessions[s.callID]; old != nil {
		u.mu.Unlock()
		s.closeMedia()
		s.releaseSource()
		_ = s.dlg.Respond(482, "Loop Detected", nil)
		return
	}
	u.sessions[s.callID] = s
	u.mu.Unlock()
	if err := s.dlg.RespondSDP(s.answer(off, o.ssrcText, port)); err != nil {
		u.endSession(s, err)
		return
	}
	u.wg.Add(1)
	go func() { defer u.wg.Done(); s.run() }()
}

func (s *session) answer(off *sdp.Session, ssrc string, port int) []byte {
	host := s.u.PublicHost
	name := off.Name
	if name == "" {
		name = "Play"
	}
	pt := s.pt
	a := &sdp.Session{
		Origin:     sdp.Origin{Username: s.ch.ID, SessionID: "0", SessionVersion: "0", NetType: "IN", AddrType: "IP4", Address: host},
		Name:       name,
		Connection: &sdp.Connection{NetType: "IN", AddrType: "IP4", Address: host},
		Start:      off.Start, Stop: off.Stop,
		SSRC: ssrc, HasFormat: true,
	}
	m := sdp.Media{Type: "video", Port: port, Proto: "RTP/AVP", Formats: []string{strconv.Itoa(pt)}, Direction: "sendonly",
		RTPMaps: []sdp.RTPMap{{PayloadType: pt, Encoding: "PS", ClockRate: 90000}}}
	switch s.media {
	case mediaTCPDial:
		m.Proto, m.Setup, m.ConnMode = "TCP/RTP/AVP", "active", "new"
	case mediaTCPListen:
		m.Proto, m.Setup, m.ConnMode = "TCP/RTP/AVP", "passive", "new"
	}
	a.Media = []sdp.Media{m}
	return a.Marshal()
}

func (u *Upstream) onAck(req *sip.Request, tx sip.ServerTransaction) {
	_ = u.dlgs.ReadAck(req, tx)
	u.mu.Lock()
	s := u.sessions[req.CallID().Value()]
	u.mu.Unlock()
	if s != nil {
		s.ackOne.Do(func() { close(s.acked) })
	}
}

// onBye ends a session; a BYE for no dialog of ours gets 481.
func (u *Upstream) onBye(req *sip.Request, tx sip.ServerTransaction) {
	u.mu.Lock()
	s := u.sessions[req.CallID().Value()]
	u.mu.Unlock()
	if s == nil {
		u.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	// Marked before the 200 goes out, so that once the upstream holds
	// the answer, Sessions no longer lists the call.
	s.byBye.Store(true)
	if err := u.dlgs.ReadBye(req, tx); err != nil {
		s.byBye.Store(false)
		u.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	s.cancel()
}

// run waits for the ACK, connects the media and sends until BYE, the
// stream ends or the media fails; then it hangs up if the upstream did
// not.
func (s *session) run() {
	var err error
	defer func() { s.u.endSession(s, err) }()
	timer := time.NewTimer(s.u.AckTimeout)
	defer timer.Stop()
	select {
	case <-s.acked:
	case <-s.ctx.Done():
		return
	case <-timer.C:
		err = errors.New("no ACK")
		s.noAck.Store(true)
		return
	}
	w, err := s.connect()
	if err != nil {
		return
	}
	snd := newSender(s.stream.Tracks(), s.ssrc, s.pt, w, &s.u.stats, s.invited)
	r := snd.reader()
	s.u.mu.Lock()
	s.snd = snd // info reads it under the lock
	s.u.mu.Unlock()
	if err = s.stream.AddReader(r); err != nil {
		return
	}
	select {
	case <-s.ctx.Done():
		r.Close()
	case <-r.Done():
		err = r.Err()
		if err == nil {
			err = errors.New("stream ended")
		}
	}
}

// connect makes the media path.
func (s *session) connect() (packetWriter, error) {
	switch s.media {
	case mediaTCPDial:
		d := net.Dialer{Timeout: s.u.AckTimeout}
		c, err := d.DialContext(s.ctx, "tcp", s.dst)
		if err != nil {
			return nil, err
		}
		return newTCPWriter(s.ctx, c), nil
	case mediaTCPListen:
		go func() { <-s.ctx.Done(); s.ln.Close() }()
		_ = s.ln.(*net.TCPListener).SetDeadline(time.Now().Add(s.u.AckTimeout))
		c, err := s.ln.Accept()
		s.ln.Close()
		if err != nil {
			return nil, err
		}
		return newTCPWriter(s.ctx, c), nil
	}
	dst, err := net.ResolveUDPAddr("udp", s.dst)
	if err != nil {
		return nil, err
	}
	return newUDPWriter(s.pc, dst), nil
}

func (s *session) releaseSource() {
	if s.release != nil {
		s.release()
		s.release = nil
	}
}

func (s *session) closeMedia() {
	var pc net.PacketConn // not a nil *net.UDPConn, whose Close panics
	if s.pc != nil {
		pc = s.pc
	}
	closeSockets(pc, s.ln)
}

func (s *session) info() Session {
	in := Session{CallID: s.callID, ChannelID: s.ch.ID, Path: s.ch.Path, Transport: s.media, SSRC: s.ssrc}
	if s.snd != nil {
		in.Packets, in.Bytes = s.snd.packets.Load(), s.snd.bytes.Load()
	}
	return in
}

// endSession tears a session down; unless the upstream hung up, it sends
// BYE (the source ended, the media failed, or we are closing).
func (u *Upstream) endSession(s *session, err error) {
	u.mu.Lock()
	if u.sessions[s.callID] != s {
		u.mu.Unlock()
		return
	}
	delete(u.sessions, s.callID)
	u.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
	s.closeMedia()
	u.mu.Lock()
	snd := s.snd
	u.mu.Unlock()
	if snd != nil {
		snd.close()
	}
	s.releaseSource()
	u.stats.sessionsEnded.Add(1)
	if !s.byBye.Load() && s.dlg != nil {
		wait := u.RequestTimeout
		u.mu.Lock()
		closing := u.closed
		u.mu.Unlock()
		if s.noAck.Load() && !closing {
			// RFC 3261 §13.3.1.4: without an ACK the BYE waits until the
			// 200's retransmissions give up (64·T1).
			wait += sip.Timer_H
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		if berr := s.dlg.Bye(ctx); berr != nil {
			u.Log.Debug("GB28181 upstream BYE not confirmed", "call", s.callID, "error", berr)
		}
		cancel()
	}
	if s.dlg != nil {
		s.dlg.Close()
	}
	u.Log.Info("GB28181 upstream session ended", "channel", s.ch.ID, "path", s.ch.Path, "by_upstream", s.byBye.Load(), "reason", err)
}

// Sessions lists the live INVITEs; a call the upstream has hung up is
// gone from the list even while its media is still being torn down.
func (u *Upstream) Sessions() []Session {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]Session, 0, len(u.sessions))
	for _, s := range u.sessions {
		if s.byBye.Load() {
			continue
		}
		out = append(out, s.info())
	}
	return out
}

// endAll ends every session and subscription (offline or Close).
func (u *Upstream) endAll(err error) {
	u.mu.Lock()
	ss := make([]*session, 0, len(u.sessions))
	for _, s := range u.sessions {
		ss = append(ss, s)
	}
	subs := make([]*subscription, 0, len(u.subs))
	for _, x := range u.subs {
		subs = append(subs, x)
	}
	u.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() { defer wg.Done(); u.endSession(s, err) }()
	}
	wg.Wait()
	for _, x := range subs {
		x.stop()
	}
}
