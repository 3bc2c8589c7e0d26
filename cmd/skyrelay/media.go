package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"net"
	"net/url"
	"strings"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gb28181/platform"
	"github.com/skyrelay/skyrelay/ingest/rtsppull"
)

// media is what the control plane sees of the media gateway: it mints the
// URL a device pushes to and tells when a path is playable. The control
// plane never touches media bytes; this is the whole of its contact.
type media struct {
	hub  *gateway.Hub
	auth *authz.Auth
	cfg  conf.Config
	// puller pulls what a remote controller serves in url_type 2; nil
	// when the gateway cannot pull.
	puller *rtsppull.Puller
	// whip tells whether WHIP ingest is plugged into the HTTP server.
	whip bool
	// gb is the GB28181 platform devices register with in url_type 3;
	// nil when there is none.
	gb *platform.Platform
}

var _ control.Media = (*media)(nil)

// errProtocol refuses a protocol the gateway cannot receive yet.
var errProtocol = errors.New("this protocol cannot be received by the gateway yet")

// MintPush returns the url of live_start_push for one push of path, with a
// secret valid for this push alone (docs/dji-cloud-api.md, url_type).
func (m *media) MintPush(path, protocol string) (string, func(), error) {
	switch protocol {
	case "rtmp":
		secret, revoke := m.auth.Mint(path)
		u := fmt.Sprintf("rtmp://%s/%s?secret=%s", hostPort(m.cfg.PublicHost, m.cfg.RTMP.Listen), path, url.QueryEscape(secret))
		return u, revoke, nil
	case "rtsp":
		if m.puller == nil {
			break
		}
		// The controller runs the server and Skyrelay pulls, so these
		// credentials guard the controller, not the gateway: fresh ones
		// per session, unrelated to any publish secret (exact key case:
		// userName; docs/dji-cloud-api.md, url_type).
		// The port is control.rtsp_device_port (url_type 2 in
		// docs/dji-cloud-api.md).
		port := m.cfg.Control.RTSPDevicePort
		u := fmt.Sprintf("userName=%s&password=%s&port=%d", url.QueryEscape("skyrelay-"+randomToken(4)), url.QueryEscape(randomToken(12)), port)
		return u, func() {}, nil
	case "gb28181":
		if m.gb == nil {
			break
		}
		// serverIP/serverPort/serverID/agentID/agentPassword/localPort/
		// channel, with a password minted for this push (docs/dji-cloud-api.md, url_type).
		return m.gb.MintPush(path)
	case "whip":
		if !m.whip {
			break
		}
		// A device is handed one URL, so the secret rides in it (the WHIP
		// endpoint also takes it as a bearer token).
		secret, revoke := m.auth.Mint(path)
		// SRS's form, /rtc/v1/whip/?app=A&stream=S: DJI Dock firmware
		// 17.01.0506 refuses a WHIP url without /rtc/v1/whip/ in its path.
		base := "http://" + hostPort(m.cfg.PublicHost, m.cfg.HTTP.Listen)
		u, ok := gateway.SRSWHIPURL(base, path, url.Values{"secret": {secret}})
		if !ok {
			u = fmt.Sprintf("%s/%s/whip?secret=%s", base, path, url.QueryEscape(secret))
		}
		return u, revoke, nil
	}
	return "", nil, fmt.Errorf("%s: %w", protocol, errProtocol)
}

// Receives tells the control plane which protocols the gateway takes.
func (m *media) Receives(protocol string) bool {
	switch protocol {
	case "rtmp":
		return true
	case "rtsp":
		return m.puller != nil
	case "whip":
		return m.whip
	case "gb28181":
		return m.gb != nil
	}
	return false
}

// Pull pulls what a remote controller serves onto path (url_type 2).
func (m *media) Pull(path, rawURL string) (func(), error) {
	if m.puller == nil {
		return nil, fmt.Errorf("rtsp: %w", errProtocol)
	}
	return m.puller.Pull(path, rawURL)
}

// randomToken is n random bytes, URL-safe base64.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// WaitReady blocks until path is playable.
func (m *media) WaitReady(ctx context.Context, path string) error {
	return m.hub.WaitReady(ctx, path)
}

// PlayURLs are the viewer URLs of path on public_host.
func (m *media) PlayURLs(path string) control.PlayURLs {
	web := "http://" + hostPort(m.cfg.PublicHost, m.cfg.HTTP.Listen) + "/" + path
	return control.PlayURLs{
		WHEP: web + "/whep",
		HLS:  web + "/index.m3u8",
		RTSP: "rtsp://" + hostPort(m.cfg.PublicHost, m.cfg.RTSP.Listen) + "/" + path,
		Page: web + "/",
	}
}

// Readers counts the viewers of path (the recorder is none).
func (m *media) Readers(path string) int { return viewers(m.hub, path) }

// hostPort joins public_host with the port of a listen address.
func hostPort(host, listen string) string {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		port = strings.TrimPrefix(listen, ":")
	}
	return net.JoinHostPort(host, port)
}
