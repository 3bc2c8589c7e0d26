package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"github.com/skyrelay/skyrelay/gateway/web"
)

var _ control.OSDWatcher = (*web.Telemetry)(nil)

// pages builds the web pages, the telemetry event stream (fed by the
// plane's osd) and the Pilot session API, and adds the two API routes.
func (a *app) pages(plane *control.Plane) (*web.Pages, *web.Telemetry) {
	c := a.cfg
	log := a.log.With("module", "web")
	p := &web.Pages{
		Hub:     a.hub,
		Cameras: func() []web.Camera { return cameras(plane) },
		Site: web.Site{
			RTMP: "rtmp://" + hostPort(c.PublicHost, c.RTMP.Listen),
			RTSP: "rtsp://" + hostPort(c.PublicHost, c.RTSP.Listen),
		},
		MapTileURL: c.Console.MapTileURL, MapAttribution: c.Console.MapAttribution,
		Log: log,
	}
	tel := &web.Telemetry{Log: log}
	plane.OSDWatcher = tel
	a.addAPI(map[string]http.HandlerFunc{
		"GET /api/v1/telemetry": tel.ServeHTTP,
		"/api/v1/pilot/session": pilotAPI(c, a.auth, plane, log).ServeHTTP,
	})
	return p, tel
}

// pilotAPI is POST /api/v1/pilot/session from the pilot: keys, falling
// back to control.app_* for the licence and to the embedded broker.
func pilotAPI(c conf.Config, auth *authz.Auth, plane *control.Plane, log *slog.Logger) *web.PilotAPI {
	k := c.Pilot
	a := &web.PilotAPI{
		AppID: k.AppID, AppKey: string(k.AppKey), License: string(k.License),
		MQTTHost:  k.MQTTHost,
		Fallback:  web.PilotAccount{User: k.MQTTUsername, Password: string(k.MQTTPassword)},
		Anonymous: c.MQTT.Embedded.AllowAnonymous,
		RTMPBase:  "rtmp://" + hostPort(c.PublicHost, c.RTMP.Listen),
		Mint:      auth.Mint,
		Log:       log,
	}
	if a.AppID == "" {
		a.AppID, a.AppKey, a.License = c.Control.AppID, string(c.Control.AppKey), string(c.Control.AppLicense)
	}
	if a.MQTTHost == "" {
		if c.MQTT.Broker == "" || c.MQTT.Broker == "embedded" {
			a.MQTTHost = "tcp://" + hostPort(c.PublicHost, c.MQTT.Embedded.Listen)
		} else {
			a.MQTTHost = c.MQTT.Broker
		}
	}
	if c.MQTT.Broker == "" || c.MQTT.Broker == "embedded" {
		a.MintAccount = func(sn string) (web.PilotAccount, error) {
			u, p, err := plane.MintPilotAccount(sn)
			return web.PilotAccount{User: u, Password: p, Gateways: []string{sn}}, err
		}
		for _, u := range c.MQTT.Embedded.Users {
			a.Accounts = append(a.Accounts, web.PilotAccount{User: u.User, Password: string(u.Password), Gateways: u.Gateways})
		}
	}
	return a
}

// onDemand starts a DJI video a viewer opened. A path that is no DJI
// video is simply not there (404 "no stream on path"), not a failed device
// start with DJI wording.
func onDemand(plane *control.Plane) func(context.Context, string) error {
	return func(ctx context.Context, path string) error {
		err := plane.StartOnDemand(ctx, path)
		if errors.Is(err, control.ErrUnknownVideo) {
			return gateway.ErrNotFound
		}
		return err
	}
}
