package main

import (
	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/web"
)

// streamChanges names each stream-core event kind in the control plane's
// words; the two packages do not import each other.
var streamChanges = map[gateway.EventKind]control.StreamChange{
	gateway.EventReady:   control.StreamReady,
	gateway.EventGone:    control.StreamGone,
	gateway.EventReaders: control.StreamReaders,
	gateway.EventLost:    control.StreamLost,
	gateway.EventBack:    control.StreamBack,
}

// cameras lists every DJI camera the plane knows for the index page.
func cameras(p *control.Plane) []web.Camera {
	var out []web.Camera
	for _, d := range p.Devices() {
		for _, c := range d.Cameras {
			out = append(out, web.Camera{VideoID: c.VideoID, Device: d.SN, Online: d.Online})
		}
	}
	return out
}
