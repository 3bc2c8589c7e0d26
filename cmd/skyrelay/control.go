package main

import (
	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/gateway/web"
)

// cameras lists every DJI camera the plane knows for the index page.
func cameras(p *control.Plane) []web.Camera {
	var out []web.Camera
	for _, d := range p.Devices() {
		for _, c := range d.Cameras {
			out = append(out, web.Camera{VideoID: c.VideoID, Gateway: d.SN, Online: d.Online})
		}
	}
	return out
}
