package main

import (
	"strings"
	"sync"
	"time"

	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/record"
)

// recording is the recorder module with the small bridge that tells it
// what the control plane knows.
//
// The control plane is to tell the recorder about devices, flights and
// OSD itself, through record.Annotator. Until it does, this bridge does
// what it can from outside: a path that becomes ready while the plane
// drives a live session on it is tagged with the session's video_id and
// device SN, and the device's latest OSD, as the plane holds it, is
// sampled into the recording once per second. Flight ids need the plane.
type recording struct {
	*record.Recorder
	osd *osdSampler
}

// Initialize starts the recorder, then the sampler.
func (r *recording) Initialize() error {
	if err := r.Recorder.Initialize(); err != nil {
		return err
	}
	r.osd.start()
	return nil
}

// Close stops the sampler, then finishes every segment.
func (r *recording) Close() {
	r.osd.close()
	r.Recorder.Close()
}

// recorder makes the recording module from record: in the config, adds
// its API (/api/v1/recordings...) to the router and feeds it the hub's
// events (after whoever listened before).
func (a *app) recorder(plane *control.Plane) module {
	c := a.cfg.Record
	rec := &record.Recorder{Hub: a.hub, Enabled: c.Enabled, Paths: c.Paths, Dir: c.Dir,
		SegmentDuration: c.SegmentDuration, PartDuration: c.PartDuration, DeleteAfter: c.DeleteAfter,
		OnSegmentComplete: c.OnSegmentComplete, Log: a.log.With("module", "record")}
	a.reg.MustRegister(rec.Collector())
	a.addAPI(rec.Routes())
	osd := &osdSampler{plane: plane, rec: rec, every: time.Second}
	prev := a.hub.OnEvent
	a.hub.OnEvent = func(e gateway.Event) {
		if prev != nil {
			prev(e)
		}
		switch e.Kind {
		case gateway.EventReady:
			if d, gw, ok := sessionDevice(plane, e.Path); ok {
				rec.SetDevice(e.Path, d)
				osd.watch(e.Path, d.SN, gw)
			}
		case gateway.EventGone:
			osd.unwatch(e.Path)
		}
		rec.StreamEvent(e.Path, string(e.Kind))
	}
	return &recording{Recorder: rec, osd: osd}
}

// sessionDevice is the device behind the live session the plane drives on
// path, and its gateway: a DJI video_id starts with the SN of the device
// that films.
func sessionDevice(plane *control.Plane, path string) (record.Device, string, bool) {
	for _, s := range plane.Sessions() {
		if s.Path == path && s.VideoID != "" && s.EndedAt == nil {
			sn, _, _ := strings.Cut(s.VideoID, "/")
			return record.Device{SN: sn, VideoID: s.VideoID}, s.Gateway, true
		}
	}
	return record.Device{}, "", false
}

// osdSampler hands the recorder the latest OSD of each watched device
// whenever the plane has heard from it since the last look.
type osdSampler struct {
	plane *control.Plane
	rec   record.Annotator
	every time.Duration

	mu      sync.Mutex
	watched map[string]watchedDevice // by path
	stop    chan struct{}
	done    chan struct{}
}

type watchedDevice struct {
	sn, gateway string
	last        time.Time
}

func (s *osdSampler) watch(path, sn, gateway string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watched == nil {
		s.watched = map[string]watchedDevice{}
	}
	s.watched[path] = watchedDevice{sn: sn, gateway: gateway}
}

func (s *osdSampler) unwatch(path string) {
	s.mu.Lock()
	delete(s.watched, path)
	s.mu.Unlock()
}

func (s *osdSampler) start() {
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.run()
}

func (s *osdSampler) close() {
	if s.stop != nil {
		close(s.stop)
		<-s.done
	}
}

func (s *osdSampler) run() {
	defer close(s.done)
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sample()
		}
	}
}

// sample looks each watched device up (the device itself, or a sub-device
// of its gateway, such as a dock's aircraft) and passes on new OSD.
func (s *osdSampler) sample() {
	s.mu.Lock()
	paths := make(map[string]watchedDevice, len(s.watched))
	for p, w := range s.watched {
		paths[p] = w
	}
	s.mu.Unlock()
	for path, w := range paths {
		g, ok := s.plane.Device(w.gateway)
		if !ok {
			continue
		}
		seen, osd := g.LastSeen, g.OSD
		if g.SN != w.sn {
			osd = nil
			for _, sd := range g.SubDevices {
				if sd.SN == w.sn {
					seen, osd = sd.LastSeen, sd.OSD
				}
			}
		}
		if len(osd) == 0 || !seen.After(w.last) {
			continue
		}
		s.rec.OSD(w.sn, seen, osd)
		s.mu.Lock()
		if cur, ok := s.watched[path]; ok && cur.sn == w.sn {
			cur.last = seen
			s.watched[path] = cur
		}
		s.mu.Unlock()
	}
}
