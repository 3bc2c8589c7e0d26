package web

import (
	"bufio"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOSD is a device list the test changes.
type fakeOSD struct {
	mu   sync.Mutex
	devs []DeviceOSD
}

func (f *fakeOSD) set(d ...DeviceOSD) { f.mu.Lock(); f.devs = d; f.mu.Unlock() }
func (f *fakeOSD) get() []DeviceOSD {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]DeviceOSD{}, f.devs...)
}

// sseEvents reads "event: X / data: Y" pairs from an SSE body.
func sseEvents(t *testing.T, r *bufio.Reader, n int) [][2]string {
	t.Helper()
	var out [][2]string
	var ev string
	for len(out) < n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d events: %v", len(out), err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			ev = line[7:]
		case strings.HasPrefix(line, "data: "):
			out = append(out, [2]string{ev, line[6:]})
		}
	}
	return out
}

// TestTelemetryStream: a subscriber first gets each device's track and
// last OSD, then every change, filtered by ?sn=; positions of (0, 0) or
// out of range never enter a track, and malformed OSD is passed on but
// draws no point.
func TestTelemetryStream(t *testing.T) {
	src := &fakeOSD{}
	src.set(DeviceOSD{SN: "AC1", Gateway: "GW1", Online: true, OSD: json.RawMessage(`{"latitude":22.5,"longitude":113.9,"height":50}`)},
		DeviceOSD{SN: "GW1", Gateway: "GW1", Online: true, OSD: json.RawMessage(`{"latitude":0,"longitude":0}`)})
	tel := &Telemetry{Source: src.get, Interval: 20 * time.Millisecond, Log: testLog()}
	if err := tel.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tel.Close)
	// Wait until the first sample is in.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		tel.mu.Lock()
		n := len(tel.last)
		tel.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no sample")
		}
	}
	srv := httptest.NewServer(tel)
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL + "/api/v1/telemetry?sn=AC1")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	r := bufio.NewReader(res.Body)
	first := sseEvents(t, r, 2)
	if first[0][0] != "track" || !strings.Contains(first[0][1], `"sn":"AC1"`) || !strings.Contains(first[0][1], "22.5,113.9,50]") ||
		first[1][0] != "osd" || !strings.Contains(first[1][1], `"gateway":"GW1"`) {
		t.Fatalf("first events %q", first)
	}
	src.set(DeviceOSD{SN: "GW1", Gateway: "GW1", Online: true, OSD: json.RawMessage(`{"latitude":91,"longitude":0}`)},
		DeviceOSD{SN: "AC1", Gateway: "GW1", Online: true, OSD: json.RawMessage(`{"latitude":22.6,"longitude":113.9,"height":60}`)})
	next := sseEvents(t, r, 1)
	if next[0][0] != "osd" || !strings.Contains(next[0][1], `"latitude":22.6`) {
		t.Fatalf("change %q", next)
	}
	src.set(DeviceOSD{SN: "AC1", Gateway: "GW1", Online: true, OSD: json.RawMessage(`{"latitude":"x"`)})
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		tel.mu.Lock()
		n := tel.Malformed
		tel.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("malformed OSD not counted")
		}
	}
	src.set(DeviceOSD{SN: "AC1", Gateway: "GW1", Online: true, OSD: json.RawMessage(`{"latitude":22.7,"longitude":113.9}`)})
	if ev := sseEvents(t, r, 1); !strings.Contains(ev[0][1], `"latitude":22.7`) {
		t.Fatalf("after a malformed OSD: %q", ev)
	}
	tel.mu.Lock()
	ac, gw := len(tel.last["AC1"].points), len(tel.last["GW1"].points)
	tel.mu.Unlock()
	if ac != 3 || gw != 0 {
		t.Fatalf("track points: aircraft %d (want 3), gateway %d (want 0: no fix, then out of range)", ac, gw)
	}
}

// TestTrackWindow: points older than TrackWindow leave the track.
func TestTrackWindow(t *testing.T) {
	src := &fakeOSD{}
	tel := &Telemetry{Source: src.get, TrackWindow: time.Minute}
	tel.last, tel.subs = map[string]*deviceTrack{}, map[*telemetrySub]struct{}{}
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 5 {
		src.set(DeviceOSD{SN: "A", OSD: json.RawMessage(`{"latitude":1,"longitude":` + string(rune('1'+i)) + `}`)})
		tel.sample(t0.Add(time.Duration(i) * 30 * time.Second))
	}
	if n := len(tel.last["A"].points); n != 3 {
		t.Fatalf("%d points in a one-minute window of 30 s samples, want 3", n)
	}
}

func BenchmarkTelemetrySample(b *testing.B) {
	osd := json.RawMessage(`{"latitude":22.5,"longitude":113.9,"height":50,"battery":{"capacity_percent":88},"attitude_head":12.5}`)
	var devs []DeviceOSD
	for i := range 20 {
		devs = append(devs, DeviceOSD{SN: "SN" + string(rune('A'+i)), OSD: osd})
	}
	tel := &Telemetry{Source: func() []DeviceOSD { return devs }}
	tel.last, tel.subs = map[string]*deviceTrack{}, map[*telemetrySub]struct{}{}
	now := time.Now()
	for i := 0; i < b.N; i++ {
		// Every device changed: the worst case of one sample.
		for j := range devs {
			devs[j].OSD = append(osd[:len(osd)-1:len(osd)-1], []byte(`,"n":`+string(rune('0'+i%10))+`}`)...)
		}
		tel.sample(now.Add(time.Duration(i) * time.Millisecond))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/20, "ns/device")
}

// FuzzTelemetryOSD: whatever a device puts in its OSD, sampling it never
// panics, and a position that enters a track is a real one.
func FuzzTelemetryOSD(f *testing.F) {
	f.Add([]byte(`{"latitude":22.5,"longitude":113.9,"height":50}`))
	f.Add([]byte(`{"latitude":"x"`))
	f.Add([]byte(`{"latitude":1e400,"longitude":-0}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tel := &Telemetry{Source: func() []DeviceOSD { return []DeviceOSD{{SN: "A", OSD: b}} }, TrackWindow: time.Hour}
		tel.last, tel.subs = map[string]*deviceTrack{}, map[*telemetrySub]struct{}{}
		s := &telemetrySub{sns: map[string]bool{}, ch: make(chan []byte, 4)}
		tel.subs[s] = struct{}{}
		tel.sample(time.Unix(1_700_000_000, 0))
		if tr := tel.last["A"]; tr != nil {
			for _, p := range tr.points {
				if p[1] < -90 || p[1] > 90 || p[2] < -180 || p[2] > 180 || (p[1] == 0 && p[2] == 0) {
					t.Fatalf("track point %v from %q", p, b)
				}
			}
		}
	})
}
