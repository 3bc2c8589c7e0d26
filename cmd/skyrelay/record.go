package main

import (
	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/record"
)

// The control plane tells the recorder which device, video and flight a
// path carries and hands it every OSD message as it arrives.
var _ control.Recorder = (*record.Recorder)(nil)

// recorder makes the recording module from record: in the config, adds
// its API (/api/v1/recordings...) to the router, feeds it the hub's
// events (after whoever listened before) and makes it the plane's
// recorder.
func (a *app) recorder(plane *control.Plane) module {
	c := a.cfg.Record
	rec := &record.Recorder{Hub: a.hub, Enabled: c.Enabled, Paths: c.Paths, Dir: c.Dir,
		SegmentDuration: c.SegmentDuration, PartDuration: c.PartDuration, DeleteAfter: c.DeleteAfter,
		OnSegmentComplete: c.OnSegmentComplete, Log: a.log.With("module", "record")}
	a.reg.MustRegister(rec.Collector())
	a.addAPI(rec.Routes())
	plane.Recorder = rec
	prev := a.hub.OnEvent
	a.hub.OnEvent = func(e gateway.Event) {
		if prev != nil {
			prev(e)
		}
		rec.StreamEvent(e.Path, string(e.Kind))
	}
	return rec
}

// viewers counts the readers of path that watch it: the recorder's reader
// is none, so a recording alone does not keep a device pushing past
// control.idle_stop_after (docs/recording.md).
func viewers(hub *gateway.Hub, path string) int {
	s := hub.Stream(path)
	if s == nil {
		return 0
	}
	n := 0
	for _, r := range s.Readers() {
		if r.Protocol != record.ReaderProtocol {
			n++
		}
	}
	return n
}
