package control

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeRecorder notes what the plane tells the recorder, one line a call.
type fakeRecorder struct {
	mu    sync.Mutex
	calls []string
	osdAt []time.Time
}

func (r *fakeRecorder) SetVideo(path, sn, videoID, flight string) {
	r.mu.Lock()
	r.calls = append(r.calls, fmt.Sprintf("video %s sn=%s vid=%s flight=%s", path, sn, videoID, flight))
	r.mu.Unlock()
}

func (r *fakeRecorder) OSD(sn string, at time.Time, osd json.RawMessage) {
	r.mu.Lock()
	r.calls = append(r.calls, "osd "+sn+" "+string(osd))
	r.osdAt = append(r.osdAt, at)
	r.mu.Unlock()
}

// take returns the calls since the last take.
func (r *fakeRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

// flightEvent is a dock's flighttask_progress: the bid is the task's
// flight_id; ext.flight_id carries it again when ext is given.
func flightEvent(tid, bid, status, extID string) string {
	out := map[string]any{"status": status, "progress": map[string]any{"percent": 40, "current_step": 19}}
	if extID != "" {
		out["ext"] = map[string]any{"flight_id": extID, "current_waypoint_index": 3, "wayline_mission_state": 5}
	}
	m := map[string]any{"tid": tid, "bid": bid, "method": "flighttask_progress", "need_reply": 1,
		"timestamp": time.Now().UnixMilli(), "data": map[string]any{"result": 0, "output": out}}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestRecorderCalls: the plane tells the recorder, as things happen, which
// device and video a live session films, the flight the dock reports, the
// end of the session, and every OSD message with the SN it belongs to;
// what is malformed, repeated or another dock's reaches it never.
func TestRecorderCalls(t *testing.T) {
	const dock, air, other = "DOCKR", "AIRR", "DOCKX"
	vid := air + "/99-0-0/normal-0"
	dockVid := dock + "/165-0-7/normal-0"
	b := newBare(t)
	rec := &fakeRecorder{}
	b.Recorder = rec
	b.dock3(dock, air)
	b.dock3(other, "AIRX")
	b.bus.device = func(topic string, payload []byte) {
		b.in("thing/product/"+dock+"/services_reply", reply(payload, 0))
	}
	b.media.setReady(vid)
	b.media.setReady(dockVid)
	rec.take()

	start := func(v string) func(t *testing.T) {
		return func(t *testing.T) {
			s, _, aerr := b.startSession(startRequest{VideoID: v, Protocol: "rtmp"}, "api")
			if aerr != nil {
				t.Fatal(aerr)
			}
			waitFor(t, "playable", func() bool { return s.view().State == StepPlayable })
		}
	}
	in := func(topic, payload string) func(*testing.T) {
		return func(*testing.T) { b.in(topic, payload) }
	}
	airOSD := `{"tid":"o1","bid":"o1","timestamp":1,"gateway":"` + dock + `","data":{"latitude":22.5,"height":88.2}}`
	fixedTID := nextTID("flight")
	steps := []struct {
		name string
		do   func(*testing.T)
		want []string
	}{
		{"session starts: device and video, no flight yet", start(vid),
			[]string{"video " + vid + " sn=" + air + " vid=" + vid + " flight="}},
		{"aircraft osd on its own topic: the aircraft's SN, as sent", in("thing/product/"+air+"/osd", airOSD),
			[]string{`osd ` + air + ` {"latitude":22.5,"height":88.2}`}},
		{"dock osd: the dock's SN", in("thing/product/"+dock+"/osd", msg(nextTID("osd"), "", map[string]any{"cover_state": 1}, map[string]any{"gateway": dock})),
			[]string{`osd ` + dock + ` {"cover_state":1}`}},
		{"malformed osd: nothing", in("thing/product/"+air+"/osd", `{"tid":"o2","data":[1,2]}`), nil},
		{"flighttask_progress with ext.flight_id: that id", in("thing/product/"+dock+"/events", flightEvent(fixedTID, "bid-ignored", "in_progress", "job-77")),
			[]string{"video " + vid + " sn=" + air + " vid=" + vid + " flight=job-77"}},
		{"the same tid again: applied once", in("thing/product/"+dock+"/events", flightEvent(fixedTID, "bid-ignored", "in_progress", "job-77")), nil},
		{"the same flight again: no news", in("thing/product/"+dock+"/events", flightEvent(nextTID("flight"), "job-77", "in_progress", "job-77")), nil},
		{"another dock's flight: not ours", in("thing/product/"+other+"/events", flightEvent(nextTID("flight"), "job-x", "in_progress", "")), nil},
		{"a session started during the flight carries it", start(dockVid),
			[]string{"video " + dockVid + " sn=" + dock + " vid=" + dockVid + " flight=job-77"}},
		{"older firmware, bid only: the bid", in("thing/product/"+dock+"/events", flightEvent(nextTID("flight"), "job-78", "in_progress", "")),
			[]string{"video " + dockVid + " sn=" + dock + " vid=" + dockVid + " flight=job-78", "video " + vid + " sn=" + air + " vid=" + vid + " flight=job-78"}},
		{"flight over: the running sessions keep it", in("thing/product/"+dock+"/events", flightEvent(nextTID("flight"), "job-78", "ok", "job-78")), nil},
		{"session ends: the path is no DJI video any more", func(t *testing.T) {
			if code := doHTTP(t, "DELETE", httpBase(t, b)+"/api/v1/live/"+vid, "", nil); code != 204 {
				t.Fatalf("DELETE = %d", code)
			}
			waitFor(t, "the end", func() bool { return b.session(vid).isEnded() })
		}, []string{"video " + vid + " sn= vid= flight="}},
		{"a session started after the flight has none", start(vid),
			[]string{"video " + vid + " sn=" + air + " vid=" + vid + " flight="}},
	}
	for _, s := range steps {
		s.do(t)
		got := rec.take()
		slices.Sort(got)
		want := slices.Clone(s.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got  %q\n want %q", s.name, got, want)
		}
	}
	if v := b.session(dockVid).view(); v.FlightID != "job-78" {
		t.Errorf("the session shows flight %q, want job-78", v.FlightID)
	}
}

// TestRecorderOSDArrivalTime: OSD goes to the recorder stamped with its
// arrival, as it arrives (no sampling): two messages in a row are two
// calls, in order.
func TestRecorderOSDArrivalTime(t *testing.T) {
	b := newBare(t)
	rec := &fakeRecorder{}
	b.Recorder = rec
	b.dock3("DOCKT", "AIRT")
	before := time.Now()
	for i := range 3 {
		b.in("thing/product/AIRT/osd", msg(nextTID("osd"), "", map[string]any{"height": i}, map[string]any{"gateway": "DOCKT"}))
	}
	after := time.Now()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.osdAt) != 3 {
		t.Fatalf("%d OSD calls, want 3: %q", len(rec.osdAt), rec.calls)
	}
	for i, at := range rec.osdAt {
		if at.Before(before) || at.After(after) || i > 0 && at.Before(rec.osdAt[i-1]) {
			t.Errorf("OSD %d stamped %v, want arrival order within [%v, %v]", i, at, before, after)
		}
	}
}

// httpBase serves b's API for the test's lifetime.
func httpBase(t *testing.T, b *bare) string {
	t.Helper()
	srv := httptest.NewServer(apiHandler(b.Plane))
	t.Cleanup(srv.Close)
	return srv.URL
}

// FuzzFlightID: whatever a dock sends as flighttask_progress data, the
// flight id is its ext.flight_id when that is a non-empty string and the
// bid otherwise; nothing panics.
func FuzzFlightID(f *testing.F) {
	f.Add("job-1", []byte(`{"result":0,"output":{"status":"in_progress","ext":{"flight_id":"job-2"}}}`))
	f.Add("job-1", []byte(`{"output":{"status":"ok"}}`))
	f.Add("job-1", []byte(`{"output":{"ext":{"flight_id":5}}}`))
	f.Add("", []byte(`{"output":"x"}`))
	f.Add("b", []byte(`[1,2`))
	f.Fuzz(func(t *testing.T, bid string, data []byte) {
		id, _ := flightID(bid, data)
		var d struct {
			Output struct {
				Ext struct {
					FlightID any `json:"flight_id"`
				} `json:"ext"`
			} `json:"output"`
		}
		_ = json.Unmarshal(data, &d)
		if s, ok := d.Output.Ext.FlightID.(string); ok && s != "" && json.Valid(data) {
			if id != s {
				t.Fatalf("flightID(%q, %s) = %q, want ext's %q", bid, data, id, s)
			}
		} else if id != bid && json.Valid(data) {
			t.Fatalf("flightID(%q, %s) = %q, want the bid", bid, data, id)
		}
	})
}

// nopRecorder takes every call and does nothing.
type nopRecorder struct{}

func (nopRecorder) SetVideo(string, string, string, string) {}
func (nopRecorder) OSD(string, time.Time, json.RawMessage)  {}

// BenchmarkOnMessageOSDRecorded is BenchmarkOnMessageOSD with a recorder
// attached: the plane's own cost of handing every OSD on.
func BenchmarkOnMessageOSDRecorded(b *testing.B) {
	p := New(embeddedConfig(), fastConfig(), newFakeMedia(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	p.bus = discardBus{}
	p.Recorder = nopRecorder{}
	defer p.Close()
	gw := benchSN(0)
	p.onMessage("sys/product/"+gw+"/status", []byte(topoMsg("t", gw, "A"+gw)))
	pl := benchOSD(nil, gw, 1)
	topic := "thing/product/" + gw + "/osd"
	b.SetBytes(int64(len(pl)))
	b.ReportAllocs()
	for b.Loop() {
		p.onMessage(topic, pl)
	}
}
