package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Telemetry serves GET /api/v1/telemetry: the devices' OSD (position,
// height, speed, heading, battery...) as Server-Sent Events, for the
// console's map and the telemetry drawn over the video. It also keeps the
// track of the last minutes of every device, so a map opened now shows
// where the aircraft came from.
//
// It samples Source (the control plane's device list) every Interval and
// sends what changed: the control plane keeps only the last OSD and has no
// hook for each one, and a 2 Hz sample is finer than what the docks send
// (0.5 Hz) and what a human reads.
//
// SSE, not a WebRTC data channel beside WHEP: the same stream serves the
// console, the map and LL-HLS viewers (which have no data channel), it
// passes every proxy that passes the page, and the browser aligns it with
// the picture by the playback delay it can measure.
type Telemetry struct {
	Source      func() []DeviceOSD
	Interval    time.Duration // default 500 ms
	TrackWindow time.Duration // default 10 min
	Log         *slog.Logger

	// Malformed counts OSD messages that were not JSON (skipped); read it
	// under mu.
	Malformed int

	mu     sync.Mutex
	last   map[string]*deviceTrack
	subs   map[*telemetrySub]struct{}
	done   chan struct{}
	closed chan struct{}
}

// DeviceOSD is one device's last OSD as the control plane has it.
type DeviceOSD struct {
	SN, Gateway string
	Online      bool
	OSD         json.RawMessage
}

// trackPoint is [unix ms, lat, lon, height].
type trackPoint [4]float64

type deviceTrack struct {
	osd     json.RawMessage
	bad     json.RawMessage // the last malformed OSD, skipped
	online  bool
	gateway string
	at      time.Time
	points  []trackPoint
}

type telemetrySub struct {
	sns  map[string]bool // empty: every device
	ch   chan []byte
	gone bool
}

// osdFrame is one "osd" event.
type osdFrame struct {
	SN      string          `json:"sn"`
	Gateway string          `json:"gateway"`
	Online  bool            `json:"online"`
	Time    time.Time       `json:"time"`
	OSD     json.RawMessage `json:"osd"`
}

// Initialize starts sampling.
func (t *Telemetry) Initialize() error {
	if t.Interval <= 0 {
		t.Interval = 500 * time.Millisecond
	}
	if t.TrackWindow <= 0 {
		t.TrackWindow = 10 * time.Minute
	}
	t.last = map[string]*deviceTrack{}
	t.subs = map[*telemetrySub]struct{}{}
	t.done, t.closed = make(chan struct{}), make(chan struct{})
	go t.run()
	return nil
}

// Close stops sampling and ends every event stream.
func (t *Telemetry) Close() {
	if t.done == nil {
		return
	}
	close(t.done)
	<-t.closed
	t.mu.Lock()
	for s := range t.subs {
		close(s.ch)
		delete(t.subs, s)
	}
	t.mu.Unlock()
}

func (t *Telemetry) run() {
	defer close(t.closed)
	tick := time.NewTicker(t.Interval)
	defer tick.Stop()
	for {
		t.sample(time.Now())
		select {
		case <-t.done:
			return
		case <-tick.C:
		}
	}
}

// sample reads Source once and fans out what changed.
func (t *Telemetry) sample(now time.Time) {
	if t.Source == nil {
		return
	}
	devs := t.Source()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, d := range devs {
		if len(d.OSD) == 0 {
			continue
		}
		tr := t.last[d.SN]
		if tr != nil && bytes.Equal(tr.bad, d.OSD) {
			continue
		}
		if !json.Valid(d.OSD) {
			// Skipped and counted, once per distinct message.
			if tr == nil {
				tr = &deviceTrack{}
				t.last[d.SN] = tr
			}
			tr.bad = d.OSD
			t.Malformed++
			continue
		}
		if tr == nil {
			tr = &deviceTrack{}
			t.last[d.SN] = tr
		}
		if bytes.Equal(tr.osd, d.OSD) && tr.online == d.Online {
			continue
		}
		changed := !bytes.Equal(tr.osd, d.OSD)
		tr.osd, tr.online, tr.gateway = d.OSD, d.Online, d.Gateway
		if changed {
			tr.at = now
			if lat, lon, h, ok := position(d.OSD); ok {
				tr.points = append(tr.points, trackPoint{float64(now.UnixMilli()), lat, lon, h})
			}
		}
		cut := float64(now.Add(-t.TrackWindow).UnixMilli())
		i := 0
		for i < len(tr.points) && tr.points[i][0] < cut {
			i++
		}
		tr.points = tr.points[i:]
		t.fanOutLocked(d.SN, frame("osd", osdFrame{SN: d.SN, Gateway: d.Gateway, Online: d.Online, Time: tr.at, OSD: d.OSD}))
	}
}

// position reads latitude, longitude and height; (0, 0) is "no fix",
// which devices report before GNSS locks.
func position(osd json.RawMessage) (lat, lon, h float64, ok bool) {
	var p struct {
		Lat    *float64 `json:"latitude"`
		Lon    *float64 `json:"longitude"`
		Height float64  `json:"height"`
	}
	if json.Unmarshal(osd, &p) != nil || p.Lat == nil || p.Lon == nil || (*p.Lat == 0 && *p.Lon == 0) {
		return 0, 0, 0, false
	}
	if *p.Lat < -90 || *p.Lat > 90 || *p.Lon < -180 || *p.Lon > 180 {
		return 0, 0, 0, false
	}
	return *p.Lat, *p.Lon, p.Height, true
}

func frame(event string, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return []byte(fmt.Sprintf("event: %s\ndata: %s\n\n", event, b))
}

func (t *Telemetry) fanOutLocked(sn string, f []byte) {
	if f == nil {
		return
	}
	for s := range t.subs {
		if len(s.sns) > 0 && !s.sns[sn] {
			continue
		}
		select {
		case s.ch <- f:
		default: // too slow: cut off, the browser reconnects
			s.gone = true
			close(s.ch)
			delete(t.subs, s)
		}
	}
}

// ServeHTTP streams the events: first, per device, a "track" event
// ({"sn","points":[[unix_ms,lat,lon,height],...]}) and its last "osd",
// then an "osd" event ({"sn","gateway","online","time","osd":{...}}) for
// every change. ?sn=A,B limits it to those devices.
func (t *Telemetry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok || t.subs == nil {
		http.Error(w, "no event stream here", http.StatusInternalServerError)
		return
	}
	s := &telemetrySub{sns: map[string]bool{}, ch: make(chan []byte, 256)}
	for _, sn := range strings.Split(r.URL.Query().Get("sn"), ",") {
		if sn = strings.TrimSpace(sn); sn != "" {
			s.sns[sn] = true
		}
	}
	var first [][]byte
	t.mu.Lock()
	for sn, tr := range t.last {
		if (len(s.sns) > 0 && !s.sns[sn]) || tr.osd == nil {
			continue
		}
		pts := tr.points
		if pts == nil {
			pts = []trackPoint{}
		}
		first = append(first, frame("track", map[string]any{"sn": sn, "points": pts}),
			frame("osd", osdFrame{SN: sn, Gateway: tr.gateway, Online: tr.online, Time: tr.at, OSD: tr.osd}))
	}
	t.subs[s] = struct{}{}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		if _, ok := t.subs[s]; ok {
			delete(t.subs, s)
			close(s.ch)
		}
		t.mu.Unlock()
	}()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(": telemetry\n\n"))
	for _, f := range first {
		_, _ = w.Write(f)
	}
	fl.Flush()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case f, ok := <-s.ch:
			if !ok {
				return
			}
			if _, err := w.Write(f); err != nil {
				return
			}
			fl.Flush()
		case <-keep.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return
			}
			fl.Flush()
		case <-r.Context().Done():
			return
		}
	}
}
