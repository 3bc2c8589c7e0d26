package main

import (
	"context"

	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/hls"
	"github.com/skyrelay/skyrelay/gateway/tlscert"
	"github.com/skyrelay/skyrelay/gb28181/platform"
	"github.com/skyrelay/skyrelay/gb28181/siplog"
	"github.com/skyrelay/skyrelay/ingest/rtmp"
	"github.com/skyrelay/skyrelay/ingest/rtsp"
	"github.com/skyrelay/skyrelay/ingest/rtsppull"
	"github.com/skyrelay/skyrelay/webrtc"
)

// namedModule pairs a module with the name its logs and errors carry.
type namedModule struct {
	name string
	mod  module
}

// modules is Skyrelay at a glance: every component, in start order.
// Outputs plug into the HTTP server, which starts last so that /healthz
// answers only once every other listener is up.
func (a *app) modules() ([]namedModule, error) {
	c := a.cfg
	var mods []namedModule
	// One certificate for every TLS listener, reloaded when its files
	// change; it starts first so that every TLS listener has it.
	var certs *tlscert.Holder
	if c.TLSOn() {
		certs = &tlscert.Holder{CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile, Log: a.log.With("module", "tls")}
		a.reg.MustRegister(certs.Collector())
		mods = append(mods, namedModule{"tls", certs})
	}
	rtmpIn := &rtmp.Server{Address: c.RTMP.Listen, Hub: a.hub, Auth: a.auth, Log: a.log.With("module", "rtmp")}
	rtspIO := &rtsp.Server{Address: c.RTSP.Listen, UDPRTPAddress: c.RTSP.UDPRTPListen, UDPRTCPAddress: c.RTSP.UDPRTCPListen,
		Hub: a.hub, Auth: a.auth, Log: a.log.With("module", "rtsp")}
	if c.HTTP.TLSListen != "" {
		a.http.TLSAddress, a.http.TLS = c.HTTP.TLSListen, certs
	}
	webrtcIO := &webrtc.Server{Listen: c.WebRTC.Listen, PublicIPs: c.WebRTC.PublicIPs, Hub: a.hub, Auth: a.auth,
		QueueSize: c.Streams.ReaderQueue, Log: a.log.With("module", "webrtc")}
	a.http.WHEP = webrtcIO.WHEP()
	a.http.WHIP = webrtcIO.WHIP()
	// url_type 2: a remote controller serves RTSP and the gateway pulls.
	puller := &rtsppull.Puller{Hub: a.hub, Transport: c.RTSP.PullTransport, Log: a.log.With("module", "rtsppull")}
	// url_type 3: devices register here over SIP and send MPEG-PS.
	gb := &platform.Platform{SIPListen: c.GB28181.SIPListen, MediaPorts: c.GB28181.MediaPorts,
		Domain: c.GB28181.Domain, ServerID: c.GB28181.ServerID, Password: string(c.GB28181.Password),
		PublicHost: c.PublicHost, IdleStopAfter: c.Control.IdleStopAfter, Hub: a.hub, Log: a.log.With("module", "gb28181")}
	a.reg.MustRegister(gb.Collector(), siplog.Collector())
	a.addAPI(gb.Routes())

	hlsOut := &hls.Server{Hub: a.hub, Auth: a.auth, SegmentCount: c.HLS.SegmentCount,
		SegmentDuration: c.HLS.SegmentDuration, PartDuration: c.HLS.PartDuration,
		CloseAfter: c.HLS.CloseAfter, Log: a.log.With("module", "hls")}
	a.http.HLS = hlsOut

	// The control plane drives devices; it reaches media only through
	// the media adapter, and hears of streams through hub events.
	devices := &media{hub: a.hub, auth: a.auth, cfg: c, puller: puller, whip: true, gb: gb}
	plane := control.New(c.MQTT, c.Control, devices, a.log.With("module", "control"))
	plane.PublicHost = c.PublicHost
	gb.OnDeviceEvent = func(e platform.DeviceEvent) {
		plane.Publish(control.Event{Type: control.EventGB28181Device, SN: e.DeviceID, Data: e})
	}
	if certs != nil {
		plane.TLS = certs
	}
	djiOnDemand := onDemand(plane)
	a.hub.OnDemand = func(ctx context.Context, path string) error {
		// gb28181/{device}/{channel}: a registered GB28181 device's channel.
		if _, _, ok := platform.ParseChannelPath(path); ok {
			return gb.StartOnDemand(ctx, path)
		}
		return djiOnDemand(ctx, path)
	}
	a.hub.OnEvent = func(e gateway.Event) {
		if c, ok := streamChanges[e.Kind]; ok {
			plane.StreamEvent(e.Path, c, viewers(a.hub, e.Path))
		}
	}
	a.reg.MustRegister(plane.Collectors()...)
	pages, telemetry := a.pages(plane) // pages.go
	a.http.Page = pages
	routes := plane.Routes()
	var clustered []namedModule // started last: it needs the plane connected
	if c.Cluster.Enabled {
		cm := a.joinCluster(plane, puller) // cluster.go
		clusterRoutes(cm.node, routes)
		a.addAPI(cm.node.Routes())
		clustered = append(clustered, namedModule{"cluster", cm})
	}
	a.addAPI(routes)

	rec := a.recorder(plane)

	mods = append(mods,
		namedModule{"rtsppull", puller},
		namedModule{"gb28181", gb},
		namedModule{"control", plane},
		namedModule{"gb28181-cascade", a.cascade(plane)}, // cascade.go
		namedModule{"record", rec},
		namedModule{"rtmp", rtmpIn},
		namedModule{"rtsp", rtspIO},
	)
	// RTMPS and RTSPS beside the plain listeners, on the same hub.
	if c.RTMP.TLSListen != "" {
		mods = append(mods, namedModule{"rtmps", &rtmp.Server{Address: c.RTMP.TLSListen, TLS: certs,
			Hub: a.hub, Auth: a.auth, Log: a.log.With("module", "rtmps")}})
	}
	if c.RTSP.TLSListen != "" {
		mods = append(mods, namedModule{"rtsps", &rtsp.Server{Address: c.RTSP.TLSListen, TLS: certs,
			Hub: a.hub, Auth: a.auth, Log: a.log.With("module", "rtsps")}})
	}
	return append(append(mods,
		namedModule{"webrtc", webrtcIO},
		namedModule{"hls", hlsOut},
		namedModule{"telemetry", telemetry},
		namedModule{"http", a.http},
	), clustered...), nil
}
