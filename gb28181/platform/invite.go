package platform

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/skyrelay/skyrelay/gateway"
)

// InviteOption changes how Invite sets a session up.
type InviteOption func(*inviteConfig)

type inviteConfig struct {
	path string
}

// WithPath publishes the session's video on path (the DJI flow uses the
// camera's video_id). Without it the path is gb28181/DEVICE/CHANNEL.
func WithPath(path string) InviteOption {
	return func(c *inviteConfig) { c.path = path }
}

// Invite asks a registered device for live video of one channel (GB/T
// 28181-2016 §9.2.2): INVITE with s=Play, a 10-digit y= SSRC and "RTP/AVP"
// (transport "udp") or "TCP/RTP/AVP" with a=setup:passive (transport
// "tcp": the device connects to the media port), then ACK. The media is
// published on the hub at the first video key frame. A session that is
// still live for the same channel is ended first (a device that restarted
// and registered again, say).
func (p *Platform) Invite(ctx context.Context, deviceID, channelID, transport string, opts ...InviteOption) (*Session, error) {
	cfg := inviteConfig{path: ChannelPath(deviceID, channelID)}
	for _, o := range opts {
		o(&cfg)
	}
	transport = strings.ToLower(transport)
	if transport != "udp" && transport != "tcp" {
		return nil, fmt.Errorf("gb28181: transport must be udp or tcp, not %q", transport)
	}
	if !validID(channelID) {
		return nil, fmt.Errorf("gb28181: bad channel id %q", channelID)
	}
	if err := gateway.ValidPath(cfg.path); err != nil {
		return nil, err
	}
	if old := p.sessionFor(deviceID, channelID); old != nil {
		bctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		old.end(bctx, true, ErrReplaced)
		cancel()
	}
	t, err := p.target(deviceID)
	if err != nil {
		return nil, err
	}
	media, err := p.ports.take()
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			p.ports.give(media)
		}
	}()

	s := &Session{
		DeviceID: deviceID, ChannelID: channelID, Path: cfg.path, Transport: transport,
		SSRC: p.nextSSRC(), LocalPort: media.port, Started: time.Now(),
		p: p, media: media, published: make(chan struct{}), done: make(chan struct{}), conns: map[net.Conn]struct{}{},
	}
	s.ing = newIngest(p.Hub, cfg.path, p.Log)
	s.ing.src = s.source
	s.ing.onPublished = func() { s.pubOnce.Do(func() { close(s.published) }) }
	s.ing.onFail = s.fail

	req, err := p.newRequest(sip.INVITE, t, channelID)
	if err != nil {
		return nil, err
	}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: p.ServerID, Host: p.PublicHost, Port: p.port}}
	req.AppendHeader(&contact)
	// Subject: media sender id:SSRC, receiver id:0 (GB/T 28181-2016 §9.2.2 / Annex F).
	req.AppendHeader(sip.NewHeader("Subject", channelID+":"+s.SSRC+","+p.ServerID+":0"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(offer{serverID: p.ServerID, host: p.PublicHost, port: media.port, tcp: transport == "tcp", ssrc: s.SSRC}.String()))

	// The wait for an answer is bounded by InviteTimeout (or the caller's
	// earlier deadline), whatever SIP's Timer B would allow.
	ictx, icancel := context.WithTimeout(ctx, p.InviteTimeout)
	defer icancel()
	dua := &sipgo.DialogUA{Client: p.cli, ContactHDR: contact, RewriteContact: true}
	dlg, err := dua.WriteInvite(ictx, req)
	if err != nil {
		return nil, fmt.Errorf("gb28181: INVITE to %s: %w", deviceID, err)
	}
	if err := p.waitAnswer(ictx, dlg); err != nil {
		dlg.Close()
		var dr *sipgo.ErrDialogResponse
		if errors.As(err, &dr) {
			return nil, fmt.Errorf("gb28181: device %s refused the INVITE for %s: %d %s", deviceID, channelID, dr.Res.StatusCode, dr.Res.Reason)
		}
		if errors.Is(err, errInviteCanceled) {
			p.metrics.invitesCanceled.Add(1)
			p.Log.Warn("GB28181 INVITE not answered in time: CANCEL sent", "device", deviceID, "channel", channelID,
				"path", cfg.path, "reason", context.Cause(ictx))
		}
		return nil, fmt.Errorf("gb28181: INVITE to %s for %s: %w", deviceID, channelID, err)
	}
	s.dlg = dlg
	s.ID = dlg.InviteRequest.CallID().Value()
	if err := dlg.Ack(ictx); err != nil {
		dlg.Close()
		return nil, fmt.Errorf("gb28181: ACK to %s: %w", deviceID, err)
	}
	ans, err := parseAnswer(dlg.InviteResponse.Body())
	if err != nil {
		bctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = dlg.Bye(bctx)
		cancel()
		dlg.Close()
		return nil, fmt.Errorf("gb28181: answer of %s: %w", deviceID, err)
	}
	s.answerSSRC = ans.ssrc
	dial := ""
	if ans.tcp && ans.setup == "passive" && ans.port > 0 && ans.host != "" {
		// The device wants to be dialled (TCP-active on our side).
		dial = net.JoinHostPort(ans.host, strconv.Itoa(ans.port))
	}
	if !p.addSession(s) {
		bctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = dlg.Bye(bctx)
		cancel()
		dlg.Close()
		return nil, errClosed
	}
	ok = true
	s.start(dial)
	p.Log.Info("GB28181 session started", "session", s.ID, "device", deviceID, "channel", channelID, "path", cfg.path,
		"transport", transport, "media_port", media.port, "ssrc", s.SSRC, "answer_ssrc", ans.ssrc, "answer_format", ans.format)
	return s, nil
}

// nextSSRC makes the y= value (GB/T 28181-2016 Annex F): "0" for live,
// the 4th to 8th digits of the domain, then a 4-digit sequence.
func (p *Platform) nextSSRC() string {
	seq := p.ssrc.Add(1) % 10000
	return "0" + p.Domain[3:8] + fmt.Sprintf("%04d", seq)
}

func (p *Platform) sessionFor(deviceID, channelID string) *Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessionForLocked(deviceID, channelID)
}

// sessionForLocked is sessionFor with p.mu held.
func (p *Platform) sessionForLocked(deviceID, channelID string) *Session {
	for _, s := range p.sessions {
		if s.DeviceID == deviceID && s.ChannelID == channelID {
			return s
		}
	}
	return nil
}

func (p *Platform) addSession(s *Session) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.sessions[s.ID] = s
	p.metrics.sessionsStarted.Add(1)
	return true
}

// sessionGone forgets an ended session, returns its port and keeps its
// counters for the metrics.
func (p *Platform) sessionGone(s *Session) {
	p.mu.Lock()
	if p.sessions[s.ID] == s {
		delete(p.sessions, s.ID)
	}
	p.mu.Unlock()
	p.ports.give(s.media)
	p.metrics.addEnded(s)
}

// Bye ends the live session of a device channel, sending BYE to the device.
func (p *Platform) Bye(ctx context.Context, deviceID, channelID string) error {
	s := p.sessionFor(deviceID, channelID)
	if s == nil {
		return fmt.Errorf("gb28181: no session for %s channel %s", deviceID, channelID)
	}
	return s.Bye(ctx)
}

// Sessions lists the live sessions.
func (p *Platform) Sessions() []SessionInfo {
	p.mu.Lock()
	ss := make([]*Session, 0, len(p.sessions))
	for _, s := range p.sessions {
		ss = append(ss, s)
	}
	p.mu.Unlock()
	out := make([]SessionInfo, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.Info())
	}
	return out
}

// onBye ends the session the device hangs up.
func (p *Platform) onBye(req *sip.Request, tx sip.ServerTransaction) {
	id := ""
	if c := req.CallID(); c != nil {
		id = c.Value()
	}
	p.mu.Lock()
	s := p.sessions[id]
	p.mu.Unlock()
	if s == nil {
		p.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if err := s.dlg.ReadBye(req, tx); err != nil {
		p.Log.Debug("GB28181 BYE answer not sent", "session", id, "error", err)
	}
	p.Log.Info("GB28181 device hung up", "session", id, "device", s.DeviceID)
	go s.end(context.Background(), false, ErrByeFromPeer)
}
