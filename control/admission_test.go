package control

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// rcCapacity is live_capacity of a remote controller in the v1.1 shape:
// one video per lens, and a device-level coexist of 0.
func rcCapacity(air string) map[string]any {
	return map[string]any{"live_capacity": map[string]any{"available_video_number": 2, "coexist_video_number_max": 1, "device_list": []any{
		map[string]any{"sn": air, "available_video_number": 2, "coexist_video_number_max": 0, "camera_list": []any{
			map[string]any{"camera_index": "42-0-0", "available_video_number": 1, "coexist_video_number_max": 1, "video_list": []any{
				map[string]any{"video_index": "zoom-0", "video_type": "zoom"}, map[string]any{"video_index": "wide-0", "video_type": "wide"}}},
			map[string]any{"camera_index": "39-0-7", "available_video_number": 1, "coexist_video_number_max": 1, "video_list": []any{
				map[string]any{"video_index": "normal-0", "video_type": "normal"}}}}}}}}
}

// withLimits is the Dock 3 capacity with other limits at gateway level and
// for the aircraft.
func withLimits(dock, air string, gwAvail, gwCoexist, airAvail int) map[string]any {
	c := dockCapacity(dock, air)
	lc := c["live_capacity"].(map[string]any)
	lc["available_video_number"], lc["coexist_video_number_max"] = gwAvail, gwCoexist
	lc["device_list"].([]any)[1].(map[string]any)["available_video_number"] = airAvail
	return c
}

// TestLiveCapacityIsALimit: a start that would exceed what live_capacity
// allows at once is a 409 naming the running pushes, and nothing is sent.
func TestLiveCapacityIsALimit(t *testing.T) {
	const gw, air = "GWC", "AIRC"
	dockCam, fpv, main := gw+"/165-0-7/normal-0", air+"/176-0-0/normal-0", air+"/99-0-0/normal-0"
	type start struct {
		video   string
		refused []string // "" accepted; else the running video_ids named
	}
	cases := []struct {
		name     string
		capacity map[string]any
		reported []string // pushes the device reports live, not started here
		starts   []start
	}{
		{"Dock 3 as observed: three at once, aircraft coexist 1 not a limit", dockCapacity(gw, air), nil,
			[]start{{dockCam, nil}, {fpv, nil}, {main, nil}}},
		{"gateway coexist 2", withLimits(gw, air, 3, 2, 2), nil,
			[]start{{dockCam, nil}, {main, nil}, {fpv, []string{dockCam, main}}}},
		{"gateway available 1", withLimits(gw, air, 1, 3, 2), nil,
			[]start{{main, nil}, {dockCam, []string{main}}}},
		{"aircraft available 1", withLimits(gw, air, 3, 3, 1), nil,
			[]start{{main, nil}, {fpv, []string{main}}, {dockCam, nil}}},
		{"a push the device reports counts", withLimits(gw, air, 3, 1, 2), []string{dockCam},
			[]start{{main, []string{dockCam}}}},
		{"remote controller v1.1: one at a time", rcCapacity(air), nil,
			[]start{{air + "/42-0-0/zoom-0", nil}, {air + "/39-0-7/normal-0", []string{air + "/42-0-0/zoom-0"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBare(t)
			b.media.instant = true
			b.in("sys/product/"+gw+"/status", topoMsg(nextTID("topo"), gw, air))
			b.in("thing/product/"+gw+"/state", msg(nextTID("cap"), "", c.capacity, map[string]any{"gateway": gw}))
			b.bus.device = func(topic string, payload []byte) {
				b.in("thing/product/"+gw+"/services_reply", reply(payload, 0))
			}
			if c.reported != nil {
				var ls []any
				for _, id := range c.reported {
					ls = append(ls, map[string]any{"video_id": id, "video_type": "normal", "video_quality": 3, "status": 1, "error_status": 0})
				}
				b.in("thing/product/"+gw+"/state", msg(nextTID("ls"), "", map[string]any{"live_status": ls}, map[string]any{"gateway": gw}))
			}
			for _, st := range c.starts {
				sent := b.bus.count("live_start_push")
				s, _, aerr := b.startSession(startRequest{VideoID: st.video, Protocol: "rtmp"}, "api")
				if aerr == nil {
					aerr = waitStart(context.Background(), s)
				}
				if st.refused == nil {
					if aerr != nil {
						t.Fatalf("start %s: %v", st.video, aerr)
					}
					continue
				}
				if aerr == nil || aerr.Status != 409 || aerr.Code != "capacity_reached" {
					t.Fatalf("start %s = %+v, want a 409 capacity_reached", st.video, aerr)
				}
				for _, id := range st.refused {
					if !strings.Contains(aerr.Message, id) {
						t.Errorf("409 %q does not name %s", aerr.Message, id)
					}
				}
				if n := b.bus.count("live_start_push"); n != sent {
					t.Errorf("a refused start sent %d live_start_push", n-sent)
				}
			}
		})
	}
}

// TestRefusingCameraIsNotHammered: viewers of every protocol retrying a
// camera whose device refuses get one live_start_push in flight, then the
// decoded refusal without a new command while the back-off runs; it
// doubles, is capped, and an API start still goes.
func TestRefusingCameraIsNotHammered(t *testing.T) {
	const gw, air = "GWH", "AIRH"
	vid := air + "/99-0-0/normal-0"
	b := newBare(t)
	b.dock3(gw, air)
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	b.refused.clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	b.refused.first, b.refused.max = 5*time.Second, 20*time.Second
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	result := 513002 // a refusal that is never retried
	gate := make(chan struct{})
	b.bus.device = func(topic string, payload []byte) {
		<-gate
		mu.Lock()
		r := result
		mu.Unlock()
		b.in("thing/product/"+gw+"/services_reply", reply(payload, r))
	}

	// Eight viewers (WebRTC and LL-HLS retries) and an API call with
	// another protocol, while the first start is in flight: one command.
	errs := make(chan error, 9)
	for i := 0; i < 8; i++ {
		go func() { errs <- b.StartOnDemand(context.Background(), vid) }()
	}
	waitFor(t, "the first live_start_push", func() bool { return b.bus.count("live_start_push") == 1 })
	_, joined, _ := b.startSession(startRequest{VideoID: vid, Protocol: "whip"}, "api")
	if !joined {
		t.Errorf("an API start with another protocol did not join the start in flight")
	}
	close(gate)
	for i := 0; i < 8; i++ {
		var ae *APIError
		if err := <-errs; !errors.As(err, &ae) || ae.Device == nil || ae.Device.Code != result {
			t.Fatalf("viewer %d got %v, want the decoded refusal", i, err)
		}
	}
	if n := b.bus.count("live_start_push"); n != 1 {
		t.Fatalf("%d live_start_push for 9 concurrent starts", n)
	}

	steps := []struct {
		advance  time.Duration
		origin   string
		commands int // live_start_push sent in all, after this step
		held     bool
	}{
		{time.Second, "on_demand", 1, true},
		{3 * time.Second, "on_demand", 1, true},
		{1100 * time.Millisecond, "on_demand", 2, false}, // 5 s passed: one more try, refused: now 10 s
		{9 * time.Second, "on_demand", 2, true},
		{1100 * time.Millisecond, "on_demand", 3, false}, // refused: now 20 s (the cap)
		{19 * time.Second, "on_demand", 3, true},
		{0, "api", 4, false}, // an API start is never held back; refused: still 20 s
		{19 * time.Second, "on_demand", 4, true},
		{1100 * time.Millisecond, "on_demand", 5, false},
	}
	for i, st := range steps {
		advance(st.advance)
		s, _, aerr := b.startSession(startRequest{VideoID: vid, Protocol: "rtmp"}, st.origin)
		if aerr == nil {
			aerr = waitStart(context.Background(), s)
		}
		if aerr == nil || aerr.Device == nil || aerr.Device.Code != result {
			t.Fatalf("step %d: %+v, want the decoded refusal", i, aerr)
		}
		if held := strings.Contains(aerr.Message, "not started again"); held != st.held {
			t.Errorf("step %d: held back %v, want %v: %s", i, held, st.held, aerr.Message)
		}
		if n := b.bus.count("live_start_push"); n != st.commands {
			t.Fatalf("step %d: %d live_start_push, want %d", i, n, st.commands)
		}
	}

	// Once the device accepts, the back-off is gone.
	mu.Lock()
	result = 0
	mu.Unlock()
	b.media.instant = true
	if err := b.StartOnDemand(context.Background(), vid); err == nil {
		t.Fatalf("an on-demand start went through during the back-off")
	}
	if _, _, aerr := b.startSession(startRequest{VideoID: vid, Protocol: "rtmp"}, "api"); aerr != nil {
		t.Fatal(aerr)
	}
	waitFor(t, "playable", func() bool { s := b.session(vid); return s != nil && s.view().State == StepPlayable })
	if e := b.refused.holdBack(vid); e != nil {
		t.Errorf("still held back after a playable start: %v", e)
	}
}
