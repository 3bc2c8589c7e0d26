package web

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
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
// The control plane tells it each device's merged OSD as it comes (at
// most twice a second per device, control.OSDWatcher) and when a device
// goes offline: the binary wires the two, and Telemetry sends each
// change on at once.
//
// SSE, not a WebRTC data channel beside WHEP: the same stream serves the
// console, the map and LL-HLS viewers (which have no data channel), it
// passes every proxy that passes the page, and the browser aligns it with
// the picture by the playback delay it can measure.
type Telemetry struct {
	TrackWindow time.Duration // default 10 min
	Log         *slog.Logger

	// Malformed counts OSD messages that were not JSON (skipped); read it
	// under mu.
	Malformed int

	mu   sync.Mutex
	last map[string]*deviceTrack
	subs map[*telemetrySub]struct{}
}

// trackPoint is [unix ms, lat, lon, height].
type trackPoint [4]float64

type deviceTrack struct {
	osd     json.RawMessage
	online  bool
	gateway string
	at      time.Time
	points  []trackPoint
}

type telemetrySub struct {
	sns   map[string]bool // empty: every device
	films *filmingDevices // nil: no ?path=, every device
	ch    chan []byte
	gone  bool
}

// newTelemetrySub is a subscriber to what query (?sn=, ?path=) asks for.
func newTelemetrySub(query url.Values) *telemetrySub {
	s := &telemetrySub{sns: map[string]bool{}, ch: make(chan []byte, 256)}
	for _, sn := range strings.Split(query.Get("sn"), ",") {
		if sn = strings.TrimSpace(sn); sn != "" {
			s.sns[sn] = true
		}
	}
	if paths, named := TelemetryPaths(query); named {
		s.films = filming(paths)
	}
	return s
}

// wants tells whether the subscriber gets device sn, which is under
// gateway: ?sn= and ?path= must both let it through.
func (s *telemetrySub) wants(sn, gateway string) bool {
	if len(s.sns) > 0 && !s.sns[sn] {
		return false
	}
	return s.films == nil || s.films.sns[sn] || s.films.gateways[gateway]
}

// osdFrame is one "osd" event.
type osdFrame struct {
	SN      string          `json:"sn"`
	Gateway string          `json:"gateway"`
	Online  bool            `json:"online"`
	Time    time.Time       `json:"time"`
	OSD     json.RawMessage `json:"osd"`
}

// Initialize makes Telemetry ready for updates and clients.
func (t *Telemetry) Initialize() error {
	if t.TrackWindow <= 0 {
		t.TrackWindow = 10 * time.Minute
	}
	t.last = map[string]*deviceTrack{}
	t.subs = map[*telemetrySub]struct{}{}
	return nil
}

// Close ends every event stream.
func (t *Telemetry) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for s := range t.subs {
		close(s.ch)
	}
	t.last, t.subs = nil, nil
}

// DeviceOSD takes device sn's merged OSD at at, through gateway (the dock
// or controller); online false with no osd says it went offline, and the
// last OSD is sent again marked so. It never blocks: a client too slow for
// the stream is cut off and reconnects.
func (t *Telemetry) DeviceOSD(sn, gateway string, online bool, at time.Time, osd json.RawMessage) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		return // not initialized, or closed
	}
	if len(osd) > 0 && !json.Valid(osd) {
		t.Malformed++
		return
	}
	tr := t.last[sn]
	if tr == nil {
		if len(osd) == 0 {
			return // offline before any OSD: nothing to show
		}
		tr = &deviceTrack{}
		t.last[sn] = tr
	}
	if len(osd) == 0 {
		if tr.online == online {
			return
		}
		tr.online = online
	} else {
		tr.osd, tr.online, tr.gateway, tr.at = osd, online, gateway, at
		if lat, lon, h, ok := position(osd); ok {
			tr.points = append(tr.points, trackPoint{float64(at.UnixMilli()), lat, lon, h})
		}
	}
	cut := float64(at.Add(-t.TrackWindow).UnixMilli())
	i := 0
	for i < len(tr.points) && tr.points[i][0] < cut {
		i++
	}
	tr.points = tr.points[i:]
	t.fanOutLocked(sn, tr.gateway, frame("osd", osdFrame{SN: sn, Gateway: tr.gateway, Online: tr.online, Time: tr.at, OSD: tr.osd}))
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

func (t *Telemetry) fanOutLocked(sn, gateway string, f []byte) {
	if f == nil {
		return
	}
	for s := range t.subs {
		if !s.wants(sn, gateway) {
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
// every change. ?sn=A,B limits it to those devices; ?path=P (repeatable)
// to the devices that film those paths (filmingDevices), which ?sn= can
// narrow but never widen: the API guard lets a token that may only read
// P ask for ?path=P.
func (t *Telemetry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "no event stream here", http.StatusInternalServerError)
		return
	}
	s := newTelemetrySub(r.URL.Query())
	var first [][]byte
	t.mu.Lock()
	if t.subs == nil {
		t.mu.Unlock()
		http.Error(w, "no event stream here", http.StatusServiceUnavailable)
		return
	}
	for sn, tr := range t.last {
		if !s.wants(sn, tr.gateway) || tr.osd == nil {
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
