package main

import (
	"strings"

	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/record"
)

// recorder makes the recording module from record: in the config, adds
// its API (/api/v1/recordings...) to the router and feeds it the hub's
// events (after whoever listened before). The control plane is to tell it
// about devices and OSD through record.Annotator; until it does, a path
// that becomes ready while the plane drives a live session on it is tagged
// here with that session's video_id and device SN (flight ids and OSD need
// the plane).
func (a *app) recorder(plane *control.Plane) *record.Recorder {
	c := a.cfg.Record
	rec := &record.Recorder{Hub: a.hub, Enabled: c.Enabled, Paths: c.Paths, Dir: c.Dir,
		SegmentDuration: c.SegmentDuration, PartDuration: c.PartDuration, DeleteAfter: c.DeleteAfter,
		OnSegmentComplete: c.OnSegmentComplete, Log: a.log.With("module", "record")}
	a.reg.MustRegister(rec.Collector())
	a.addAPI(rec.Routes())
	prev := a.hub.OnEvent
	a.hub.OnEvent = func(e gateway.Event) {
		if prev != nil {
			prev(e)
		}
		if e.Kind == gateway.EventReady {
			if d, ok := sessionDevice(plane, e.Path); ok {
				rec.SetDevice(e.Path, d)
			}
		}
		rec.StreamEvent(e.Path, string(e.Kind))
	}
	return rec
}

// sessionDevice is the device behind the live session the plane drives on
// path: a DJI video_id starts with the SN of the device that films.
func sessionDevice(plane *control.Plane, path string) (record.Device, bool) {
	for _, s := range plane.Sessions() {
		if s.Path == path && s.VideoID != "" && s.EndedAt == nil {
			sn, _, _ := strings.Cut(s.VideoID, "/")
			return record.Device{SN: sn, VideoID: s.VideoID}, true
		}
	}
	return record.Device{}, false
}
