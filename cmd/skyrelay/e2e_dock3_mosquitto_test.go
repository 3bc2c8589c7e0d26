package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestDock3ShapesWithMosquitto plays a Dock 3 with the Mosquitto clients
// against the binary, in the message shapes a real one sends: replies come
// back on the topic each message came on, the aircraft's forwarded hms
// does not make it a gateway, the osd fragments add up, a malformed state
// is refused with a state_reply and changes nothing, the boot-time
// requests get their documented answers and a lens-named live_status is
// matched to its camera.
func TestDock3ShapesWithMosquitto(t *testing.T) {
	testpeer.Require(t, "mosquitto_pub", "mosquitto_sub")
	g := gwproc.Start(t, "")
	const dock, air = "DOCK3MOSQ0001", "M4TDMOSQ0001"
	base := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(g.MQTT), "-V", "mqttv311"}
	sub := testpeer.Start(t, "mosquitto_sub", append(base, "-d", "-v", "-q", "1",
		"-t", "sys/product/"+dock+"/status_reply", "-t", "thing/product/+/events_reply",
		"-t", "thing/product/+/state_reply", "-t", "thing/product/+/requests_reply")...)
	ctx := testpeer.Context(t, 30*time.Second)
	if _, err := sub.WaitOutput(ctx, "SUBACK"); err != nil {
		t.Fatal(err)
	}
	pub := func(topic string, m map[string]any) {
		t.Helper()
		m["timestamp"] = time.Now().UnixMilli()
		if _, ok := m["bid"]; !ok {
			m["bid"] = "bid-" + fmt.Sprint(m["tid"])
		}
		b, _ := json.Marshal(m)
		if out, err := testpeer.Command(t, "mosquitto_pub", append(base, "-q", "1", "-t", topic, "-m", string(b))...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub %s: %v %s", topic, err, out)
		}
	}
	// replied waits for the reply to tid on topic and returns its data.
	replied := func(topic, tid string) map[string]any {
		t.Helper()
		line, err := sub.WaitOutput(ctx, `"tid":"`+tid+`"`)
		if err != nil {
			t.Fatal(err)
		}
		got, payload, _ := strings.Cut(line, " ")
		var m struct {
			Data map[string]any `json:"data"`
		}
		if got != topic || json.Unmarshal([]byte(payload), &m) != nil {
			t.Fatalf("reply to %s: %q, want it on %s", tid, line, topic)
		}
		return m.Data
	}
	tp := "thing/product/"

	pub("sys/product/"+dock+"/status", map[string]any{"tid": "topo-1", "method": "update_topo", "data": map[string]any{
		"domain": "3", "type": 3, "sub_type": 0, "device_secret": "s", "nonce": "n", "thing_version": "1.3.0",
		"sub_devices": []any{map[string]any{"sn": air, "domain": "0", "type": 100, "sub_type": 1, "index": "A", "thing_version": "1.3.0"}}}})
	replied("sys/product/"+dock+"/status_reply", "topo-1")
	capacity := map[string]any{"available_video_number": 3, "coexist_video_number_max": 3, "device_list": []any{
		map[string]any{"sn": dock, "available_video_number": 1, "coexist_video_number_max": 1, "camera_list": []any{
			map[string]any{"camera_index": "165-0-7", "available_video_number": 1, "coexist_video_number_max": 1,
				"video_list": []any{map[string]any{"video_index": "normal-0", "video_type": "normal", "switchable_video_types": []string{"normal"}}}}}},
		map[string]any{"sn": air, "available_video_number": 2, "coexist_video_number_max": 1, "camera_list": []any{
			map[string]any{"camera_index": "176-0-0", "available_video_number": 1, "coexist_video_number_max": 1,
				"video_list": []any{map[string]any{"video_index": "normal-0", "video_type": "normal", "switchable_video_types": []string{"normal"}}}},
			map[string]any{"camera_index": "99-0-0", "available_video_number": 1, "coexist_video_number_max": 1,
				"video_list": []any{map[string]any{"video_index": "normal-0", "video_type": "zoom", "switchable_video_types": []string{"normal", "wide", "zoom", "ir"}}}}}}}}
	pub(tp+dock+"/state", map[string]any{"tid": "cap-1", "gateway": dock, "data": map[string]any{"live_capacity": capacity}})
	for i, f := range []map[string]any{
		{"mode_code": 0, "cover_state": 0, "latitude": 22.5797, "longitude": 113.9376, "height": 45.0},
		{"network_state": map[string]any{"type": 2, "quality": 5, "rate": 8200.0}, "drone_in_dock": 1},
		{"media_file_detail": map[string]any{"remain_upload": 0}},
	} {
		pub(tp+dock+"/osd", map[string]any{"tid": fmt.Sprint("osd-", i), "gateway": dock, "data": f})
	}
	pub(tp+air+"/osd", map[string]any{"tid": "aosd-1", "gateway": dock, "data": map[string]any{"mode_code": 0, "elevation": 0}})

	// The aircraft's hms, forwarded on its own topic: answered there.
	pub(tp+air+"/events", map[string]any{"tid": "hms-1", "method": "hms", "gateway": dock, "need_reply": 1, "data": map[string]any{
		"list": []any{map[string]any{"level": 1, "module": 3, "in_the_sky": 0, "code": "0x16100083", "device_type": "0-100-1", "imminent": 0}}}})
	if d := replied(tp+air+"/events_reply", "hms-1"); d["result"] != 0.0 {
		t.Fatalf("events_reply data %v", d)
	}
	// A malformed state that asks for a reply: refused, with a reply.
	pub(tp+dock+"/state", map[string]any{"tid": "bad-1", "gateway": dock, "need_reply": 1, "data": map[string]any{"live_capacity": "not-an-object"}})
	if d := replied(tp+dock+"/state_reply", "bad-1"); d["result"] != 1.0 {
		t.Fatalf("state_reply to a malformed state: %v, want result 1", d)
	}
	// What the dock asks on every boot.
	pub(tp+dock+"/requests", map[string]any{"tid": "rq-1", "method": "storage_config_get", "gateway": dock, "data": map[string]any{"module": 0}})
	if d := replied(tp+dock+"/requests_reply", "rq-1"); d["result"] != 1.0 {
		t.Fatalf("storage_config_get answered %v, want a refusal", d)
	}
	pub(tp+dock+"/requests", map[string]any{"tid": "rq-2", "method": "flighttask_resource_get", "gateway": dock, "data": map[string]any{"flight_id": "f-1"}})
	if d := replied(tp+dock+"/requests_reply", "rq-2"); d["result"] != 1.0 {
		t.Fatalf("flighttask_resource_get answered %v, want a refusal", d)
	}
	// A push the dock reports by the lens in use.
	pub(tp+dock+"/state", map[string]any{"tid": "ls-1", "gateway": dock, "data": map[string]any{"live_status": []any{
		map[string]any{"video_id": air + "/99-0-0/wide-0", "video_type": "wide", "video_quality": 3, "status": 1, "error_status": 0}}}})

	main := air + "/99-0-0/normal-0"
	var dev apiDevice
	eventually(t, 10*time.Second, "the live_status matched to the camera", func() bool {
		call(t, g, "GET", "/api/v1/devices/"+dock, "", &dev)
		return len(dev.LiveStatus) == 1 && dev.LiveStatus[0].VideoID == main
	})
	var list struct {
		Items []apiDevice `json:"items"`
	}
	call(t, g, "GET", "/api/v1/devices", "", &list)
	if len(list.Items) != 1 || list.Items[0].SN != dock {
		t.Fatalf("devices: %d, want the dock alone", len(list.Items))
	}
	if len(dev.SubDevices) != 1 || dev.SubDevices[0].SN != air || !dev.SubDevices[0].Online {
		t.Errorf("sub-devices %+v", dev.SubDevices)
	}
	if len(dev.Cameras) != 3 {
		t.Errorf("%d cameras after a malformed live_capacity, want the 3 stored before", len(dev.Cameras))
	}
	for _, c := range dev.Cameras {
		if c.VideoID == main && c.CurrentLens != "wide" {
			t.Errorf("camera %s current_lens %q, want wide", main, c.CurrentLens)
		}
	}
	for _, k := range []string{"mode_code", "cover_state", "latitude", "network_state", "media_file_detail"} {
		if dev.OSD[k] == nil {
			t.Errorf("osd lost %s: %v", k, dev.OSD)
		}
	}
	if v, ok := g.Metric(t, "skyrelay_mqtt_malformed_total"); !ok || v != 1 {
		t.Errorf("skyrelay_mqtt_malformed_total = %v, want 1", v)
	}
}
