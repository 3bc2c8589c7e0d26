package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway/hls/hlstest"
	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
	"github.com/skyrelay/skyrelay/sim"
)

// apiDevice is GET /api/v1/devices/{sn} as these tests read it.
type apiDevice struct {
	SN         string `json:"sn"`
	Online     bool   `json:"online"`
	SubDevices []struct {
		SN     string                     `json:"sn"`
		Online bool                       `json:"online"`
		State  map[string]json.RawMessage `json:"state"`
	} `json:"sub_devices"`
	Cameras []struct {
		VideoID     string `json:"video_id"`
		CurrentLens string `json:"current_lens"`
	} `json:"cameras"`
	LiveStatus []struct {
		VideoID         string `json:"video_id"`
		ReportedVideoID string `json:"reported_video_id"`
		Lens            string `json:"lens"`
		Status          int    `json:"status"`
	} `json:"live_status"`
	OSD map[string]json.RawMessage `json:"osd"`
}

// apiSession is GET /api/v1/live/{video_id} as these tests read it.
type apiSession struct {
	State string `json:"state"`
	Lens  string `json:"lens"`
	End   *struct {
		Cause string `json:"cause"`
		By    string `json:"by"`
	} `json:"end"`
	Reason string `json:"reason"`
}

// TestDock3FieldShapes runs docksim behaving like a real Dock 3 (its
// aircraft's hms forwarded on the aircraft's topic, osd in fragments,
// live_status named by the lens in use) against the binary: the API shows
// one gateway with its aircraft and three cameras, the live push's state
// follows the dock's reports, and a stop the dock reports is detected.
func TestDock3FieldShapes(t *testing.T) {
	g := gwproc.Start(t, "")
	faults := sim.NewFaults()
	var aircraftEvents atomic.Int64
	runDock(t, sim.Options{Broker: embeddedBroker(g), Faults: faults,
		OSDInterval: 100 * time.Millisecond, EventInterval: 100 * time.Millisecond,
		OnNote: func(n sim.Note) {
			if n.Kind == sim.NoteEventReplied && n.Topic == "thing/product/"+sim.DefaultDockAircraftSN+"/events_reply" {
				aircraftEvents.Add(1)
			}
		}})
	dock, air := sim.DefaultDockSN, sim.DefaultDockAircraftSN
	main := air + "/99-0-0/normal-0"

	// Every osd fragment has come, and the hms the dock forwards on its
	// aircraft's topic have been answered there.
	var dev apiDevice
	eventually(t, 20*time.Second, "the dock with its aircraft, cameras and whole osd", func() bool {
		if call(t, g, "GET", "/api/v1/devices/"+dock, "", &dev) != 200 || !dev.Online || len(dev.Cameras) != 3 {
			return false
		}
		for _, k := range []string{"mode_code", "cover_state", "latitude", "network_state", "drone_charge_state", "media_file_detail"} {
			if dev.OSD[k] == nil {
				return false
			}
		}
		return aircraftEvents.Load() >= 2
	})
	var list struct {
		Items []apiDevice `json:"items"`
	}
	call(t, g, "GET", "/api/v1/devices", "", &list)
	if len(list.Items) != 1 || list.Items[0].SN != dock {
		t.Fatalf("devices: %+v, want the dock alone (its aircraft's events must not make it a gateway)", list.Items)
	}
	if len(dev.SubDevices) != 1 || dev.SubDevices[0].SN != air || !dev.SubDevices[0].Online || dev.SubDevices[0].State["firmware_version"] == nil {
		t.Fatalf("sub-devices: %+v", dev.SubDevices)
	}

	// A push: the dock reports it under ".../99-0-0/wide-0".
	var a liveAnswer
	if code := call(t, g, "POST", "/api/v1/live", fmt.Sprintf(`{"video_id":%q,"protocol":"rtmp"}`, main), &a); code != 201 {
		t.Fatalf("POST /api/v1/live: %d %+v", code, a)
	}
	eventually(t, 10*time.Second, "the dock's live_status matched to the camera", func() bool {
		call(t, g, "GET", "/api/v1/devices/"+dock, "", &dev)
		for _, ls := range dev.LiveStatus {
			if ls.VideoID == main && ls.ReportedVideoID == air+"/99-0-0/wide-0" && ls.Status == 1 && ls.Lens == "wide" {
				return true
			}
		}
		return false
	})
	var s apiSession
	if call(t, g, "GET", "/api/v1/live/"+main, "", &s); s.State != "playable" || s.Lens != "wide" {
		t.Fatalf("session %+v, want playable with lens wide", s)
	}

	// A lens change: the session and the camera follow the dock's report.
	if code := call(t, g, "PATCH", "/api/v1/live/"+main, `{"lens":"zoom"}`, nil); code != 200 {
		t.Fatalf("PATCH lens: %d", code)
	}
	eventually(t, 10*time.Second, "the lens to follow", func() bool {
		call(t, g, "GET", "/api/v1/live/"+main, "", &s)
		call(t, g, "GET", "/api/v1/devices/"+dock, "", &dev)
		for _, c := range dev.Cameras {
			if c.VideoID == main {
				return s.Lens == "zoom" && c.CurrentLens == "zoom"
			}
		}
		return false
	})

	// The dock ends the push by itself: the session says so.
	faults.Inject(sim.Injection{EndPush: true})
	eventually(t, 10*time.Second, "the stop the dock reports", func() bool {
		call(t, g, "GET", "/api/v1/live/"+main, "", &s)
		return s.State == "stopped"
	})
	if s.End == nil || s.End.Cause != "device_report" || !strings.Contains(s.Reason, "device reports") {
		t.Fatalf("session ended %+v, want the device's report as its cause", s)
	}
	call(t, g, "GET", "/api/v1/devices", "", &list)
	if len(list.Items) != 1 {
		t.Fatalf("%d devices at the end", len(list.Items))
	}
}

// TestRefusingCameraPlayerPage: the player page open in Chromium on a
// camera whose dock refuses every start. Its WebRTC and LL-HLS retries
// each start the camera on demand; the dock must not be hammered (in the
// field: 8 live_start_push in 22 s, without end), and the page shows the
// decoded refusal.
func TestRefusingCameraPlayerPage(t *testing.T) {
	testpeer.Require(t, "chromium")
	g := gwproc.Start(t, "")
	faults := sim.NewFaults()
	faults.Inject(sim.Injection{StartPushCode: 513099, StartPushTimes: 1000})
	var starts atomic.Int64
	d := runDock(t, sim.Options{Broker: embeddedBroker(g), Faults: faults, EventInterval: -1,
		OnNote: func(n sim.Note) {
			if n.Kind == sim.NoteService && n.Method == "live_start_push" {
				starts.Add(1)
			}
		}})
	video := d.VideoIDs()[0]
	eventually(t, 20*time.Second, "the dock's cameras", func() bool {
		var dev apiDevice
		return call(t, g, "GET", "/api/v1/devices/"+sim.DefaultDockSN, "", &dev) == 200 && len(dev.Cameras) == 3
	})

	const window = 12 * time.Second
	res := hlstest.Browser(t, hlstest.BrowserRun{
		URL:     g.URL("/" + video + "/"),
		Probe:   "({t: performance.now(), status: document.getElementById('status').textContent})",
		Until:   fmt.Sprintf("v.t > %d", window.Milliseconds()),
		Timeout: 40 * time.Second,
	})
	var probe struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(res.Probe, &probe)
	status := probe.Status
	if !res.OK {
		t.Fatalf("the player page did not stay open %s: %s", window, strings.Join(res.Log, "\n"))
	}
	n := starts.Load()
	t.Logf("%d live_start_push in %s with the player page open; the page says: %s", n, window, status)
	// One at once, one after the first 5 s wait, none in the next 10 s.
	if n < 1 || n > 3 {
		t.Fatalf("the dock got %d live_start_push in %s, want 1 to 3", n, window)
	}
	if !strings.Contains(status, "513099") || !strings.Contains(status, "dock") {
		t.Errorf("the page does not show the decoded refusal: %q", status)
	}
	// An API call still forces a start.
	var a liveAnswer
	if code := call(t, g, "POST", "/api/v1/live", fmt.Sprintf(`{"video_id":%q}`, video), &a); code != 502 || a.Error.DeviceCode != 513099 {
		t.Fatalf("forced start: %d %+v", code, a.Error)
	}
	if starts.Load() != n+1 {
		t.Errorf("the forced start sent %d commands", starts.Load()-n)
	}
}
