package main

import (
	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/record"
)

// recorder makes the recording module from record: in the config, adds
// its API (/api/v1/recordings...) to the router and feeds it the hub's
// events (after whoever listened before). The control plane is to tell it
// about devices and OSD through record.Annotator.
func (a *app) recorder() *record.Recorder {
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
		rec.StreamEvent(e.Path, string(e.Kind))
	}
	return rec
}
