package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/sim"
)

// TestTelemetryFromDocksim: docksim's dock and aircraft send osd over
// the embedded broker; GET /api/v1/telemetry, which the console's map and
// the video overlay read, carries each one's merged osd with a position,
// fed by the control plane as the osd comes (no sampling).
func TestTelemetryFromDocksim(t *testing.T) {
	g := gwproc.Start(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	d := sim.Dock{Options: sim.Options{Broker: fmt.Sprintf("tcp://127.0.0.1:%d", g.MQTT), OSDInterval: 100 * time.Millisecond}}
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	req, _ := http.NewRequestWithContext(ctx, "GET", g.URL("/api/v1/telemetry"), nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("telemetry answered %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	want := map[string]bool{sim.DefaultDockSN: false, sim.DefaultDockAircraftSN: false}
	r := bufio.NewReader(res.Body)
	deadline := time.AfterFunc(30*time.Second, cancel) // ends the read below
	defer deadline.Stop()
	for left := len(want); left > 0; {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("telemetry ended before an osd with a position for %v: %v", want, err)
		}
		data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: ")
		if !ok {
			continue
		}
		var ev struct {
			SN     string                     `json:"sn"`
			Online bool                       `json:"online"`
			OSD    map[string]json.RawMessage `json:"osd"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("event %s: %v", data, err)
		}
		if done, ok := want[ev.SN]; ok && !done && ev.Online && len(ev.OSD["latitude"]) > 0 && len(ev.OSD["longitude"]) > 0 {
			want[ev.SN] = true
			left--
		}
	}
}
