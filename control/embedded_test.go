package control

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// TestEmbeddedDeviceLifecycle plays a Dock 3 with mosquitto_pub and
// mosquitto_sub, over MQTT 3.1.1 and 5, against the embedded broker.
func TestEmbeddedDeviceLifecycle(t *testing.T) {
	for _, v := range []string{"mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) {
			tp := startPlane(t, embeddedConfig(), fastConfig())
			ev := openSSE(t, tp.srv.URL)
			gw, ac := "DOCK3"+strings.ToUpper(v), "AIR"+strings.ToUpper(v)
			dev := mqttPeer{port: tp.port(t), version: v}
			replies := dev.sub(t, "sys/product/"+gw+"/status_reply", "thing/product/+/state_reply",
				"thing/product/"+gw+"/events_reply", "thing/product/"+gw+"/requests_reply")

			// update_topo: answered on status_reply with tid, bid and method.
			tid := nextTID("topo")
			dev.pub(t, "sys/product/"+gw+"/status", topoMsg(tid, gw, ac))
			r := replies.await(t, "status_reply", onTopic("sys/product/"+gw+"/status_reply"))
			if r.str("tid") != tid || r.str("bid") != "bid-"+tid || r.str("method") != "update_topo" || string(r.data()["result"]) != "0" {
				t.Fatalf("status_reply = %s", r.Raw)
			}
			ev.await(t, "device_online", func(e sseEvent) bool { return e.Type == EventDeviceOnline && e.SN == gw })
			ev.await(t, "topology", func(e sseEvent) bool { return e.Type == EventTopology && strings.Contains(string(e.Data), ac) })

			// live_capacity on the dock's state topic.
			dev.pub(t, "thing/product/"+gw+"/state", msg(nextTID("cap"), "", dockCapacity(gw, ac), map[string]any{"gateway": gw}))
			ev.await(t, "live_capacity", func(e sseEvent) bool {
				return e.Type == EventState && strings.Contains(string(e.Data), "live_capacity")
			})
			var d Device
			if code := tp.do(t, "GET", "/api/v1/devices/"+gw, "", &d); code != 200 {
				t.Fatalf("GET device: %d", code)
			}
			if d.Domain == nil || *d.Domain != 3 || !d.Online || len(d.SubDevices) != 1 || d.SubDevices[0].SN != ac || len(d.Cameras) != 3 {
				t.Fatalf("device = %+v", d)
			}
			if string(d.Extra["vendor_extra"]) != `{"a":1}` || string(d.SubDevices[0].Extra["future_field"]) != "7" {
				t.Errorf("unknown update_topo fields not kept: %s / %s", d.Extra, d.SubDevices[0].Extra)
			}
			if b, _ := json.Marshal(d); strings.Contains(string(b), "secret") {
				t.Errorf("device_secret leaked into the API: %s", b)
			}

			// A state with need_reply on the aircraft's topic, sent twice
			// with one tid: answered twice on the aircraft's state_reply,
			// applied once.
			stid := nextTID("state")
			st := msg(stid, "", map[string]any{"rth_mode": 1}, map[string]any{"gateway": gw, "need_reply": 1})
			dev.pub(t, "thing/product/"+ac+"/state", st)
			dev.pub(t, "thing/product/"+ac+"/state", st)
			for i := 0; i < 2; i++ {
				r := replies.await(t, "state_reply", onTopic("thing/product/"+ac+"/state_reply"))
				if r.str("tid") != stid || string(r.data()["result"]) != "0" {
					t.Fatalf("state_reply = %s", r.Raw)
				}
			}
			// A later state of the same device: once its event is here, the
			// repeat has been handled too (one device's messages are in order).
			dev.pub(t, "thing/product/"+ac+"/state", msg(nextTID("state"), "", map[string]any{"rth_mode": 2}, map[string]any{"gateway": gw}))
			ev.await(t, "second rth_mode", func(e sseEvent) bool { return e.Type == EventState && strings.Contains(string(e.Data), `"rth_mode":2`) })
			if n := ev.count(func(e sseEvent) bool { return e.Type == EventState && strings.Contains(string(e.Data), `"rth_mode":1`) }); n != 1 {
				t.Errorf("a repeated tid was applied %d times", n)
			}
			d, _ = tp.Device(gw)
			if string(d.SubDevices[0].State["rth_mode"]) != "2" {
				t.Errorf("aircraft state = %s", d.SubDevices[0].State)
			}
			if _, ok := d.State["live_capacity"]; !ok {
				t.Errorf("the aircraft's state replaced the dock's: %v", d.State)
			}

			// events with need_reply.
			etid := nextTID("ev")
			dev.pub(t, "thing/product/"+gw+"/events", msg(etid, "flighttask_progress", map[string]any{"progress": 5}, map[string]any{"need_reply": 1, "gateway": gw}))
			r = replies.await(t, "events_reply", onTopic("thing/product/"+gw+"/events_reply"))
			if r.str("tid") != etid || r.str("method") != "flighttask_progress" || string(r.data()["result"]) != "0" {
				t.Fatalf("events_reply = %s", r.Raw)
			}
			ev.await(t, "device event", func(e sseEvent) bool { return e.Type == EventDeviceEvent && e.field("method") == "flighttask_progress" })

			// requests: config has its fields directly in data.
			rtid := nextTID("req")
			dev.pub(t, "thing/product/"+gw+"/requests", msg(rtid, "config", map[string]any{"config_type": "json", "config_scope": "product"}, nil))
			r = replies.await(t, "config reply", onTopic("thing/product/"+gw+"/requests_reply"))
			cd := r.data()
			if r.str("tid") != rtid || cloudapi.String(cd["app_id"]) != "123456" || cloudapi.String(cd["app_key"]) != "app-key-secret" ||
				cloudapi.String(cd["ntp_server_host"]) != "pool.ntp.org" || cd["result"] != nil {
				t.Fatalf("config reply = %s", r.Raw)
			}
			for _, c := range []struct {
				method, data string
				check        func(map[string]json.RawMessage) bool
			}{
				{"flight_areas_get", `{}`, func(d map[string]json.RawMessage) bool { return string(d["result"]) == "0" }},
				{"offline_map_get", `{}`, func(d map[string]json.RawMessage) bool { return string(d["result"]) == "0" }},
				{"airport_bind_status", `{"devices":[{"sn":"` + gw + `"}]}`, func(d map[string]json.RawMessage) bool {
					return string(d["result"]) == "0" && strings.Contains(string(d["output"]), `"is_device_bind_organization":true`)
				}},
				{"airport_organization_get", `{"device_binding_code":"x","organization_id":"skyrelay"}`, func(d map[string]json.RawMessage) bool {
					return string(d["result"]) == "0" && strings.Contains(string(d["output"]), `"organization_name":"Skyrelay"`)
				}},
				{"airport_organization_bind", `{"bind_devices":[{"sn":"` + gw + `","device_binding_code":"x","organization_id":"skyrelay","device_callsign":"D1"}]}`,
					func(d map[string]json.RawMessage) bool {
						return string(d["result"]) == "0" && strings.Contains(string(d["output"]), `"err_code":0`)
					}},
				{"storage_config_get", `{}`, func(d map[string]json.RawMessage) bool { return string(d["result"]) == "1" }},
			} {
				tid := nextTID("req")
				dev.pub(t, "thing/product/"+gw+"/requests", fmt.Sprintf(`{"tid":%q,"bid":"b","timestamp":1,"method":%q,"data":%s}`, tid, c.method, c.data))
				r := replies.await(t, c.method+" reply", onTopic("thing/product/"+gw+"/requests_reply"))
				if r.str("tid") != tid || r.str("method") != c.method || !c.check(r.data()) {
					t.Errorf("%s reply = %s", c.method, r.Raw)
				}
			}

			// osd keeps the last data.
			dev.pub(t, "thing/product/"+gw+"/osd", msg(nextTID("osd"), "", map[string]any{"mode_code": 1}, map[string]any{"gateway": gw}))
			dev.pub(t, "thing/product/"+gw+"/state", msg(nextTID("mark"), "", map[string]any{"mark": 1}, map[string]any{"gateway": gw}))
			ev.await(t, "mark", func(e sseEvent) bool { return e.Type == EventState && strings.Contains(string(e.Data), `"mark"`) })
			d, _ = tp.Device(gw)
			if string(d.OSD) != `{"mode_code":1}` {
				t.Errorf("osd = %s", d.OSD)
			}
		})
	}
}

// TestOffline: a gateway silent for offline_after goes offline, and comes
// back with its next message.
func TestOffline(t *testing.T) {
	c := fastConfig()
	c.OfflineAfter = 300 * time.Millisecond
	tp := startPlane(t, embeddedConfig(), c)
	ev := openSSE(t, tp.srv.URL)
	dev := mqttPeer{port: tp.port(t), version: "mqttv5"}
	dev.pub(t, "thing/product/GWOFF/osd", msg(nextTID("osd"), "", map[string]any{}, nil))
	ev.await(t, "online", func(e sseEvent) bool { return e.Type == EventDeviceOnline && e.SN == "GWOFF" })
	ev.await(t, "offline", func(e sseEvent) bool { return e.Type == EventDeviceOffline && e.SN == "GWOFF" })
	if d, _ := tp.Device("GWOFF"); d.Online {
		t.Fatal("still online")
	}
	dev.pub(t, "thing/product/GWOFF/osd", msg(nextTID("osd"), "", map[string]any{}, nil))
	ev.await(t, "online again", func(e sseEvent) bool { return e.Type == EventDeviceOnline && e.SN == "GWOFF" })
}
