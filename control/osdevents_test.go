package control

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestOSDPacer(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	var o osdPacer
	for _, c := range []struct {
		sn   string
		at   time.Duration
		want bool
	}{
		{"A", 0, true},
		{"A", 100 * time.Millisecond, false},
		{"B", 100 * time.Millisecond, true}, // each device has its own pace
		{"A", 499 * time.Millisecond, false},
		{"A", 500 * time.Millisecond, true},
		{"A", 600 * time.Millisecond, false},
	} {
		if got := o.due(c.sn, t0.Add(c.at)); got != c.want {
			t.Errorf("%s at %v: due = %v, want %v", c.sn, c.at, got, c.want)
		}
	}
}

// TestOSDEvents: a listener on /api/v1/events gets a device's merged osd
// (keys of earlier fragments included), once per pace window, and nothing
// is built while nobody listens.
func TestOSDEvents(t *testing.T) {
	const dock, air = "DOCKE", "AIRE"
	b := newBare(t)
	b.dock3(dock, air)
	b.in("thing/product/"+dock+"/osd", msg(nextTID("osd"), "", dock3OSDFragments[0], map[string]any{"gateway": dock}))
	sub := b.events.subscribe()
	defer b.events.unsubscribe(sub)
	b.in("thing/product/"+dock+"/osd", msg(nextTID("osd"), "", dock3OSDFragments[1], map[string]any{"gateway": dock}))
	b.in("thing/product/"+dock+"/osd", msg(nextTID("osd"), "", dock3OSDFragments[2], map[string]any{"gateway": dock}))
	var osds []map[string]json.RawMessage
	for len(sub.ch) > 0 {
		var ev struct {
			Type string                     `json:"type"`
			SN   string                     `json:"sn"`
			Data map[string]json.RawMessage `json:"data"`
		}
		frame := string(<-sub.ch) // an SSE frame: "id: ...\ndata: {...}\n\n"
		_, raw, _ := strings.Cut(frame, "data: ")
		raw, _, _ = strings.Cut(raw, "\n")
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			t.Fatalf("event %s: %v", raw, err)
		}
		if ev.Type == EventOSD && ev.SN == dock {
			osds = append(osds, ev.Data)
		}
	}
	if len(osds) != 1 {
		t.Fatalf("%d osd events for two fragments within one pace window, want 1", len(osds))
	}
	if string(osds[0]["mode_code"]) != "0" || string(osds[0]["drone_in_dock"]) != "1" {
		t.Errorf("osd event = %v, want the merge of the first two fragments", osds[0])
	}
}

// osdCall is one call of an OSDWatcher.
type osdCall struct {
	sn, gw string
	online bool
	osd    map[string]json.RawMessage
}

type watcherFunc func(osdCall)

func (f watcherFunc) DeviceOSD(sn, gw string, online bool, _ time.Time, osd json.RawMessage) {
	c := osdCall{sn: sn, gw: gw, online: online}
	if osd != nil {
		_ = json.Unmarshal(osd, &c.osd)
	}
	f(c)
}

// TestOSDWatcher: the watcher hears a device's merged osd with nobody on
// /api/v1/events, paced like the events, and hears the dock and its
// aircraft go offline when the dock falls silent.
func TestOSDWatcher(t *testing.T) {
	const dock, air = "DOCKW", "AIRW"
	calls := make(chan osdCall, 64)
	b := newBare(t)
	b.OSDWatcher = watcherFunc(func(c osdCall) { calls <- c })
	b.dock3(dock, air)
	for _, f := range dock3OSDFragments[:3] {
		b.in("thing/product/"+dock+"/osd", msg(nextTID("osd"), "", f, map[string]any{"gateway": dock}))
	}
	next := func() osdCall {
		t.Helper()
		select {
		case c := <-calls:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("the watcher heard nothing")
			return osdCall{}
		}
	}
	c := next()
	if c.sn != dock || c.gw != dock || !c.online || string(c.osd["latitude"]) != "22.5797" {
		t.Fatalf("first call %+v, want the dock's osd", c)
	}
	if len(calls) > 0 {
		t.Fatalf("three fragments within one pace window made %d calls, want 1", 1+len(calls))
	}
	// The dock falls silent: offline for it and for its aircraft.
	b.sweep(time.Now().Add(b.Config.OfflineAfter + time.Second))
	gone := map[string]bool{}
	for len(gone) < 2 {
		c := next()
		if c.online || c.osd != nil || c.gw != dock {
			t.Fatalf("call %+v, want offline", c)
		}
		gone[c.sn] = true
	}
	if !gone[dock] || !gone[air] {
		t.Fatalf("offline calls for %v, want the dock and its aircraft", gone)
	}
}
