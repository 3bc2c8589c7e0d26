package web

import (
	"bufio"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

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
// out of range never enter a track, malformed OSD is skipped and counted,
// and a device going offline is sent again marked so.
func TestTelemetryStream(t *testing.T) {
	tel := &Telemetry{Log: testLog()}
	if err := tel.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tel.Close)
	now := time.Now()
	osd := func(sn, j string) { tel.DeviceOSD(sn, "GW1", true, now, json.RawMessage(j)) }
	osd("AC1", `{"latitude":22.5,"longitude":113.9,"height":50}`)
	osd("GW1", `{"latitude":0,"longitude":0}`)

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
	osd("GW1", `{"latitude":91,"longitude":0}`) // filtered out by ?sn=
	osd("AC1", `{"latitude":22.6,"longitude":113.9,"height":60}`)
	if next := sseEvents(t, r, 1); next[0][0] != "osd" || !strings.Contains(next[0][1], `"latitude":22.6`) {
		t.Fatalf("change %q", next)
	}
	osd("AC1", `{"latitude":"x"`)
	osd("AC1", `{"latitude":22.7,"longitude":113.9}`)
	if ev := sseEvents(t, r, 1); !strings.Contains(ev[0][1], `"latitude":22.7`) {
		t.Fatalf("after a malformed OSD: %q", ev)
	}
	tel.DeviceOSD("AC1", "GW1", false, now, nil)
	if ev := sseEvents(t, r, 1); !strings.Contains(ev[0][1], `"online":false`) || !strings.Contains(ev[0][1], `"latitude":22.7`) {
		t.Fatalf("offline: %q", ev)
	}
	tel.mu.Lock()
	ac, gw, bad := len(tel.last["AC1"].points), len(tel.last["GW1"].points), tel.Malformed
	tel.mu.Unlock()
	if ac != 3 || gw != 0 || bad != 1 {
		t.Fatalf("track points: aircraft %d (want 3), gateway %d (want 0: no fix, then out of range); malformed %d (want 1)", ac, gw, bad)
	}
}

// TestTelemetryPathFilter: with ?path=, a subscriber gets only the
// devices that film those paths: a DJI video_id's device (its first
// segment), and for pilot/RCSN the controller and the aircraft under it;
// ?sn= narrows that and never widens it; without ?path= every device.
func TestTelemetryPathFilter(t *testing.T) {
	devices := [][2]string{{"DOCK1", "DOCK1"}, {"AC1", "DOCK1"}, {"RC1", "RC1"}, {"AC2", "RC1"}, {"RC2", "RC2"}, {"AC3", "RC2"}, {"pilot", "pilot"}, {"live", "live"}}
	for _, c := range []struct {
		query string
		want  string // the devices let through, in the order of devices
	}{
		{"path=AC1/99-0-0/normal-0", "AC1"},
		{"path=DOCK1/165-0-7/normal-0", "DOCK1"},
		{"path=pilot/RC1", "RC1 AC2"},
		{"path=pilot/RC1&path=%2FAC3%2F99-0-0%2Fnormal-0%2F", "RC1 AC2 AC3"},
		{"path=pilot/RC1&sn=AC2,DOCK1", "AC2"},
		{"path=AC1/99-0-0/normal-0&sn=DOCK1", ""},
		{"path=&sn=DOCK1", ""},
		{"path=", ""},
		{"path=pilot/", "pilot"},
		{"path=live/a", "live"},
		{"sn=DOCK1,RC2", "DOCK1 RC2"},
		{"", "DOCK1 AC1 RC1 AC2 RC2 AC3 pilot live"},
	} {
		q, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		s := newTelemetrySub(q)
		var got []string
		for _, d := range devices {
			if s.wants(d[0], d[1]) {
				got = append(got, d[0])
			}
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("?%s lets through %v, want %q", c.query, got, c.want)
		}
	}
}

// TestTelemetryPilotPath: the stream of ?path=pilot/RC1 carries, first
// and then as they change, the controller's and its aircraft's telemetry
// and no other device's, and follows an aircraft that moves under RC1.
func TestTelemetryPilotPath(t *testing.T) {
	tel := &Telemetry{Log: testLog()}
	if err := tel.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tel.Close)
	now := time.Now()
	osd := func(sn, gw, j string) { tel.DeviceOSD(sn, gw, true, now, json.RawMessage(j)) }
	pos := `{"latitude":1,"longitude":2}`
	osd("RC1", "RC1", pos)
	osd("AC2", "RC1", pos)
	osd("DOCK1", "DOCK1", pos)
	osd("AC3", "RC2", pos)
	srv := httptest.NewServer(tel)
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL + "/api/v1/telemetry?path=pilot/RC1")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	r := bufio.NewReader(res.Body)
	seen := map[string]int{}
	count := func(evs [][2]string) {
		for _, e := range evs {
			var v struct{ SN string }
			_ = json.Unmarshal([]byte(e[1]), &v)
			seen[v.SN]++
		}
	}
	count(sseEvents(t, r, 4)) // a track and an osd for RC1 and AC2
	osd("DOCK1", "DOCK1", pos)
	osd("AC3", "RC2", pos)
	osd("AC2", "RC1", pos)
	osd("AC3", "RC1", pos) // AC3 now flies under RC1
	osd("RC1", "RC1", `{"latitude":1,"longitude":2,"end":true}`)
	var last [][2]string
	for len(last) == 0 || !strings.Contains(last[0][1], `"end":true`) {
		last = sseEvents(t, r, 1)
		count(last)
	}
	if len(seen) != 3 || seen["RC1"] != 3 || seen["AC2"] != 3 || seen["AC3"] != 1 {
		t.Fatalf("events by device %v, want RC1 and AC2 3 each (track, osd, osd), AC3 once (under RC1), nothing else", seen)
	}
}

// TestTrackWindow: points older than TrackWindow leave the track.
func TestTrackWindow(t *testing.T) {
	tel := &Telemetry{TrackWindow: time.Minute}
	_ = tel.Initialize()
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 5 {
		tel.DeviceOSD("A", "A", true, t0.Add(time.Duration(i)*30*time.Second), json.RawMessage(`{"latitude":1,"longitude":`+string(rune('1'+i))+`}`))
	}
	if n := len(tel.last["A"].points); n != 3 {
		t.Fatalf("%d points in a one-minute window of 30 s samples, want 3", n)
	}
}

func BenchmarkTelemetryOSD(b *testing.B) {
	osd := json.RawMessage(`{"latitude":22.5,"longitude":113.9,"height":50,"battery":{"capacity_percent":88},"attitude_head":12.5}`)
	tel := &Telemetry{}
	_ = tel.Initialize()
	s := &telemetrySub{sns: map[string]bool{}, ch: make(chan []byte, 1)}
	tel.subs[s] = struct{}{} // one client, whose buffer overflows at once
	now := time.Now()
	for i := 0; i < b.N; i++ {
		tel.DeviceOSD("SN"+string(rune('A'+i%20)), "GW", true, now.Add(time.Duration(i)*time.Millisecond), osd)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/update")
}

// FuzzTelemetryOSD: whatever a device puts in its OSD, taking it never
// panics, and a position that enters a track is a real one.
func FuzzTelemetryOSD(f *testing.F) {
	f.Add([]byte(`{"latitude":22.5,"longitude":113.9,"height":50}`))
	f.Add([]byte(`{"latitude":"x"`))
	f.Add([]byte(`{"latitude":1e400,"longitude":-0}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tel := &Telemetry{TrackWindow: time.Hour}
		_ = tel.Initialize()
		s := &telemetrySub{sns: map[string]bool{}, ch: make(chan []byte, 4)}
		tel.subs[s] = struct{}{}
		tel.DeviceOSD("A", "A", true, time.Unix(1_700_000_000, 0), b)
		if tr := tel.last["A"]; tr != nil {
			for _, p := range tr.points {
				if p[1] < -90 || p[1] > 90 || p[2] < -180 || p[2] > 180 || (p[1] == 0 && p[2] == 0) {
					t.Fatalf("track point %v from %q", p, b)
				}
			}
		}
	})
}
