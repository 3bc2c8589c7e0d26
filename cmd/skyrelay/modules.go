package main

import (
	"net/http"

	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/hls"
	"github.com/skyrelay/skyrelay/gb28181/platform"
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
	rtmpIn := &rtmp.Server{Address: c.RTMP.Listen, Hub: a.hub, Auth: a.auth, Log: a.log.With("module", "rtmp")}
	rtspIO := &rtsp.Server{Address: c.RTSP.Listen, UDPRTPAddress: c.RTSP.UDPRTPListen, UDPRTCPAddress: c.RTSP.UDPRTCPListen,
		Hub: a.hub, Auth: a.auth, Log: a.log.With("module", "rtsp")}
	webrtcIO := &webrtc.Server{Listen: c.WebRTC.Listen, PublicIPs: c.WebRTC.PublicIPs, Hub: a.hub, Auth: a.auth,
		QueueSize: c.Streams.ReaderQueue, Log: a.log.With("module", "webrtc")}
	a.http.WHEP = webrtcIO.WHEP()
	a.http.WHIP = webrtcIO.WHIP()
	// url_type 2: a remote controller serves RTSP and the gateway pulls.
	puller := &rtsppull.Puller{Hub: a.hub, Transport: c.RTSP.PullTransport, Log: a.log.With("module", "rtsppull")}
	// url_type 3: devices register here over SIP and send MPEG-PS.
	gb := &platform.Platform{SIPListen: c.GB28181.SIPListen, MediaPorts: c.GB28181.MediaPorts,
		Domain: c.GB28181.Domain, ServerID: c.GB28181.ServerID, Password: string(c.GB28181.Password),
		PublicHost: c.PublicHost, Hub: a.hub, Log: a.log.With("module", "gb28181")}
	a.reg.MustRegister(gb.Collector())
	a.addAPI(map[string]http.HandlerFunc{"GET /api/v1/gb28181/devices": gb.DevicesHandler().ServeHTTP})

	hlsOut := &hls.Server{Hub: a.hub, Auth: a.auth, SegmentCount: c.HLS.SegmentCount,
		SegmentDuration: c.HLS.SegmentDuration, PartDuration: c.HLS.PartDuration,
		CloseAfter: c.HLS.CloseAfter, Log: a.log.With("module", "hls")}
	a.http.HLS = hlsOut

	// The control plane drives devices; it reaches media only through
	// the media adapter, and hears of streams through hub events.
	devices := &media{hub: a.hub, auth: a.auth, cfg: c, puller: puller, whip: true, gb: gb}
	plane := control.New(c.MQTT, c.Control, devices, a.log.With("module", "control"))
	a.hub.OnDemand = onDemand(plane)
	a.hub.OnEvent = func(e gateway.Event) { plane.StreamEvent(e.Path, string(e.Kind), e.Readers) }
	a.reg.MustRegister(plane.Collectors()...)
	pages, telemetry := a.pages(plane) // pages.go
	a.http.Page = pages
	a.addAPI(plane.Routes())

	return []namedModule{
		{"rtsppull", puller},
		{"gb28181", gb},
		{"control", plane},
		{"rtmp", rtmpIn},
		{"rtsp", rtspIO},
		{"webrtc", webrtcIO},
		{"hls", hlsOut},
		{"telemetry", telemetry},
		{"http", a.http},
	}, nil
}
