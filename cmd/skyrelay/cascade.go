package main

import (
	"net"
	"net/http"

	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/gb28181/cascade"
)

// cascade builds the gb28181.upstreams component: Skyrelay as a lower
// platform of NVRs and video platforms, offering every stream of the hub
// and every DJI camera of the control plane to each (cascade_dji.go).
func (a *app) cascade(plane *control.Plane) *cascade.Cascade {
	c := a.cfg
	dji := djiChannels{plane}
	cs := &cascade.Cascade{LocalID: c.GB28181.ServerID, PublicHost: c.PublicHost, Hub: a.hub, Devices: dji, Positions: dji,
		Log: a.log.With("module", "gb28181-cascade")}
	if host, _, err := net.SplitHostPort(c.GB28181.SIPListen); err == nil {
		cs.ListenHost = host
	}
	for _, u := range c.GB28181.Upstreams {
		cs.Upstreams = append(cs.Upstreams, cascade.UpstreamConfig{Name: u.Name, Address: u.Address, Transport: u.Transport,
			ServerID: u.ServerID, Domain: u.Domain, LocalID: u.LocalID, Password: string(u.Password),
			RegisterExpires: u.RegisterExpires, KeepaliveInterval: u.KeepaliveInterval, Channels: u.Channels})
	}
	a.reg.MustRegister(cs.Collector())
	a.addAPI(map[string]http.HandlerFunc{"GET /api/v1/gb28181/upstreams": cs.Handler().ServeHTTP})
	return cs
}
