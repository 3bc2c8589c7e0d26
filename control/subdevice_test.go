package control

import (
	"strings"
	"testing"
)

// TestAircraftTopicIsNotAGateway: a Dock 3 forwards messages of its
// aircraft on the aircraft's own topics, with the dock in "gateway". On
// every topic kind they belong to the aircraft under the dock: there is
// one gateway, the aircraft keeps its state, and later osd and state of
// the aircraft land on its record.
func TestAircraftTopicIsNotAGateway(t *testing.T) {
	const dock, air = "DOCK3SN", "M4TDSN"
	cases := []struct {
		name  string
		topic string
		msg   func() string
		// replyTopic is where the answer goes: the topic it came on + _reply.
		replyTopic string
	}{
		{"events hms", "thing/product/" + air + "/events", func() string { return hmsEvent(nextTID("hms"), dock) }, "thing/product/" + air + "/events_reply"},
		{"events without need_reply", "thing/product/" + air + "/events", func() string {
			return msg(nextTID("ev"), "flighttask_progress", map[string]any{"output": map[string]any{"status": "ok"}}, map[string]any{"gateway": dock})
		}, ""},
		{"state", "thing/product/" + air + "/state", func() string {
			return msg(nextTID("st"), "", map[string]any{"rth_mode": 1}, map[string]any{"gateway": dock, "need_reply": 1})
		}, "thing/product/" + air + "/state_reply"},
		{"osd", "thing/product/" + air + "/osd", func() string {
			return msg(nextTID("osd"), "", map[string]any{"mode_code": 14, "height": 12.5}, map[string]any{"gateway": dock})
		}, ""},
		{"requests", "thing/product/" + air + "/requests", func() string {
			return msg(nextTID("rq"), "flight_areas_get", map[string]any{}, map[string]any{"gateway": dock})
		}, "thing/product/" + air + "/requests_reply"},
		{"services_reply", "thing/product/" + air + "/services_reply", func() string {
			return msg(nextTID("sr"), "camera_mode_switch", map[string]any{"result": 0}, map[string]any{"gateway": dock})
		}, ""},
		{"property/set_reply", "thing/product/" + air + "/property/set_reply", func() string {
			return msg(nextTID("ps"), "", map[string]any{"height_limit": map[string]any{"result": 0}}, map[string]any{"gateway": dock})
		}, ""},
		{"drc/up", "thing/product/" + air + "/drc/up", func() string {
			return msg(nextTID("drc"), "drone_emergency_stop", map[string]any{"result": 0}, map[string]any{"gateway": dock})
		}, ""},
	}
	for _, c := range cases {
		for _, order := range []string{"after update_topo", "before update_topo"} {
			t.Run(c.name+" "+order, func(t *testing.T) {
				b := newBare(t)
				if order == "after update_topo" {
					b.dock3(dock, air)
					b.in("thing/product/"+air+"/state", msg(nextTID("st"), "", map[string]any{"firmware_version": "10.1"}, map[string]any{"gateway": dock}))
				}
				b.in(c.topic, c.msg())
				if order == "before update_topo" {
					b.dock3(dock, air)
					b.in("thing/product/"+air+"/state", msg(nextTID("st"), "", map[string]any{"firmware_version": "10.1"}, map[string]any{"gateway": dock}))
				}
				// Later messages of the aircraft, with and without the
				// gateway field, go to its record.
				b.in("thing/product/"+air+"/osd", msg(nextTID("osd"), "", map[string]any{"battery": map[string]any{"capacity_percent": 80}}, nil))
				b.in("thing/product/"+air+"/state", msg(nextTID("st"), "", map[string]any{"payloads": []any{}}, map[string]any{"gateway": dock}))

				devs := b.Devices()
				if len(devs) != 1 || devs[0].SN != dock {
					t.Fatalf("devices = %v, want the dock alone", snsOf(devs))
				}
				d := devs[0]
				if len(d.Cameras) != 3 {
					t.Errorf("the dock lists %d cameras, want 3", len(d.Cameras))
				}
				s, ok := subOf(d, air)
				if !ok || !s.Online {
					t.Fatalf("aircraft %s is not an online sub-device of the dock: %+v", air, d.SubDevices)
				}
				for _, k := range []string{"firmware_version", "payloads"} {
					if _, ok := s.State[k]; !ok {
						t.Errorf("aircraft state lost %s: %v", k, s.State)
					}
				}
				if !strings.Contains(string(s.OSD), "capacity_percent") {
					t.Errorf("aircraft osd = %s, want the battery", s.OSD)
				}
				if _, ok := b.Device(air); ok {
					t.Errorf("the aircraft is also listed as a device")
				}
				if c.replyTopic != "" && len(b.bus.on(c.replyTopic)) == 0 {
					t.Errorf("no answer on %s", c.replyTopic)
				}
				if sn := b.reg.parentOf(air); sn != dock {
					t.Errorf("parentOf(%s) = %q, want %s", air, sn, dock)
				}
			})
		}
	}
}

// TestTopologyRepairsAnAircraftTakenForAGateway: after a restart, an
// aircraft may speak (without the gateway field) before its dock's
// update_topo; the record made for it is folded into the sub-device.
func TestTopologyRepairsAnAircraftTakenForAGateway(t *testing.T) {
	const dock, air = "DOCKR", "AIRR"
	b := newBare(t)
	b.in("thing/product/"+air+"/state", msg(nextTID("st"), "", map[string]any{"rth_altitude": 100}, nil))
	b.in("thing/product/"+air+"/osd", msg(nextTID("osd"), "", map[string]any{"mode_code": 0}, nil))
	if n := len(b.Devices()); n != 1 {
		t.Fatalf("before the topology: %d devices", n)
	}
	b.dock3(dock, air)
	devs := b.Devices()
	if len(devs) != 1 || devs[0].SN != dock {
		t.Fatalf("devices = %v, want the dock alone", snsOf(devs))
	}
	s, ok := subOf(devs[0], air)
	if !ok {
		t.Fatalf("no sub-device %s", air)
	}
	if _, ok := s.State["rth_altitude"]; !ok || !strings.Contains(string(s.OSD), "mode_code") {
		t.Errorf("the aircraft's state and osd were not kept: %v %s", s.State, s.OSD)
	}
	// A later osd of the aircraft stays on the sub-device.
	b.in("thing/product/"+air+"/osd", msg(nextTID("osd"), "", map[string]any{"mode_code": 3}, nil))
	if len(b.Devices()) != 1 {
		t.Errorf("a later osd made the aircraft a device again")
	}
}

func snsOf(devs []Device) []string {
	var out []string
	for _, d := range devs {
		out = append(out, d.SN)
	}
	return out
}
