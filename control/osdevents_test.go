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
