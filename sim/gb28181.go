package sim

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/skyrelay/skyrelay/gb28181/gbsim"
)

// gbPusher is url_type 3: the device becomes a GB28181 device that
// REGISTERs to serverIP:serverPort as agentID with agentPassword and, when
// the platform INVITEs its channel, sends the clip as MPEG-PS over RTP
// (docs/dji-cloud-api.md, "url formats per url_type"; the transport is the one the INVITE offers).
type gbPusher struct {
	dev    *gbsim.Device
	cancel context.CancelFunc
}

func (p *gbPusher) start(ctx context.Context, req pushRequest) error {
	q, err := url.ParseQuery(req.url)
	if err != nil {
		return &pushError{reason: reasonBadURL, err: fmt.Errorf("url_type 3: %w", err)}
	}
	// Key case is exact: serverIP, not serverIp.
	ip, port, serverID := q.Get("serverIP"), q.Get("serverPort"), q.Get("serverID")
	agent, pass, channel := q.Get("agentID"), q.Get("agentPassword"), q.Get("channel")
	if ip == "" || serverID == "" || agent == "" || channel == "" {
		return &pushError{reason: reasonBadURL, err: fmt.Errorf("url_type 3 wants serverIP, serverPort, serverID, agentID, agentPassword, localPort and channel")}
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return &pushError{reason: reasonBadURL, err: fmt.Errorf("invalid serverPort %q", port)}
	}
	dev, err := gbsim.New(gbsim.Config{
		Server: net.JoinHostPort(ip, port), ServerID: serverID, DeviceID: agent, Password: pass,
		Channels: []gbsim.Channel{{ID: channel, Name: req.videoID}},
		Clip:     clipH264, FPS: ClipFPS, Log: req.log,
	})
	if err != nil {
		return &pushError{reason: reasonUnknownFailure, err: err}
	}
	ctx, cancel := context.WithCancel(ctx)
	if err := dev.Run(ctx); err != nil {
		cancel()
		dev.Close()
		return &pushError{reason: reasonUnreachable, err: fmt.Errorf("GB28181 register: %w", err)}
	}
	p.dev, p.cancel = dev, cancel
	req.log.Info("gb28181 registered", "server", net.JoinHostPort(ip, port), "agent", agent, "channel", channel)
	return nil
}

func (p *gbPusher) stop() {
	if p.dev == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = p.dev.Unregister(ctx)
	cancel()
	p.cancel()
	p.dev.Close()
}
