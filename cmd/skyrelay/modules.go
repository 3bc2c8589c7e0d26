package main

import (
	"github.com/skyrelay/skyrelay/gateway/hls"
	"github.com/skyrelay/skyrelay/gateway/web"
)

// namedModule pairs a module with the name its logs and errors carry.
type namedModule struct {
	name string
	mod  module
}

// modules is Skyrelay at a glance: every component, in start order.
// Outputs plug into the HTTP server, which starts last so that /healthz
// answers only once every other listener is up.
func (a *app) modules() []namedModule {
	c := a.cfg

	hlsOut := &hls.Server{Hub: a.hub, Auth: a.auth, SegmentCount: c.HLS.SegmentCount,
		SegmentDuration: c.HLS.SegmentDuration, PartDuration: c.HLS.PartDuration,
		CloseAfter: c.HLS.CloseAfter, Log: a.log.With("module", "hls")}
	a.http.HLS = hlsOut
	a.http.Page = &web.Pages{Hub: a.hub, Log: a.log.With("module", "web")}

	return []namedModule{
		{"hls", hlsOut},
		{"http", a.http},
	}
}
