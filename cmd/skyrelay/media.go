package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/gateway"
)

// media is what the control plane sees of the media gateway: it mints the
// URL a device pushes to and tells when a path is playable. The control
// plane never touches media bytes; this is the whole of its contact.
type media struct {
	hub  *gateway.Hub
	auth *gateway.Auth
	cfg  conf.Config
}

var _ control.Media = (*media)(nil)

// errProtocol refuses a protocol the gateway cannot receive yet.
var errProtocol = errors.New("this protocol cannot be received by the gateway yet")

// MintPush returns the url of live_start_push for one push of path, with a
// secret valid for this push alone (dji-cloud-api.md §8.1).
func (m *media) MintPush(path, protocol string) (string, func(), error) {
	switch protocol {
	case "rtmp":
		secret, revoke := m.auth.Mint(path)
		u := fmt.Sprintf("rtmp://%s/%s?secret=%s", hostPort(m.cfg.PublicHost, m.cfg.RTMP.Listen), path, url.QueryEscape(secret))
		return u, revoke, nil
	}
	return "", nil, fmt.Errorf("%s: %w", protocol, errProtocol)
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

// Readers counts the viewers of path.
func (m *media) Readers(path string) int {
	if s := m.hub.Stream(path); s != nil {
		return len(s.Readers())
	}
	return 0
}

// hostPort joins public_host with the port of a listen address.
func hostPort(host, listen string) string {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		port = strings.TrimPrefix(listen, ":")
	}
	return net.JoinHostPort(host, port)
}
