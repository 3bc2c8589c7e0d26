package control

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skyrelay/skyrelay/control/broker"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// unparsable are payloads that are no DJI message at all; each must be
// counted in skyrelay_mqtt_malformed_total exactly once, on every topic.
var unparsable = []string{
	`{"tid":"t","bid":"b","data":{"live_capacity":{`, // truncated
	`this is not JSON at all`,
	``, // empty payload (mosquitto_pub -n)
	`[1,2,3]`,
	`null`,
	`"just a string"`,
	`123456789012345678901234567890`,
	"\xff\xfe\x00\x01binary",
	strings.Repeat("[", 20000) + strings.Repeat("]", 20000), // deeper than encoding/json allows
}

// oddlyTyped are envelopes that parse but carry wrong types and huge
// numbers everywhere: the plane must survive them and answer what it can.
var oddlyTyped = []string{
	`{"tid":{},"bid":[],"timestamp":"yesterday","method":7,"need_reply":"maybe","gateway":false,"data":"a string"}`,
	`{"tid":"huge","bid":"huge","timestamp":1e400,"need_reply":99999999999999999999999,"method":"update_topo","data":` +
		`{"domain":1e400,"type":-1e400,"sub_type":"x","sub_devices":[{"sn":123456789012345678901234567890,"domain":[],"index":{}}],` +
		`"live_capacity":{"available_video_number":1e400,"device_list":[{"sn":1e300,"camera_list":[{"camera_index":-1e308,"video_list":[{"video_index":1e999,"switchable_video_types":[1,2]}]}]}]},` +
		`"live_status":[{"video_id":1e400,"video_quality":1e400,"status":9e99,"error_status":-99999999999999999999999}]}}`,
	`{"tid":"types","data":{"live_capacity":"none","live_status":{"video_id":5},"sub_devices":"none"}}`,
}

// TestMalformedMessages publishes garbage with mosquitto_pub on every topic
// the plane subscribes to, then a valid message on the same topic, which
// must still be served; the garbage is counted.
func TestMalformedMessages(t *testing.T) {
	tp := startPlane(t, embeddedConfig(), fastConfig())
	ev := openSSE(t, tp.srv.URL)
	gw, ac := "BADGW", "BADAIR"
	dev := mqttPeer{port: tp.port(t), version: "mqttv5"}
	dock := newScriptedDock(t, dev, gw)
	replies := dev.sub(t, "sys/product/"+gw+"/status_reply", "thing/product/+/state_reply",
		"thing/product/"+gw+"/events_reply", "thing/product/"+gw+"/requests_reply")
	dev.pub(t, "sys/product/"+gw+"/status", topoMsg(nextTID("topo"), gw, ac))
	replies.await(t, "status_reply", onTopic("sys/product/"+gw+"/status_reply"))
	dev.pub(t, "thing/product/"+gw+"/state", msg(nextTID("cap"), "", dockCapacity(gw, ac), nil))
	ev.await(t, "live_capacity", func(e sseEvent) bool {
		return e.Type == EventState && strings.Contains(string(e.Data), "live_capacity")
	})

	dir := t.TempDir()
	type check func(t *testing.T)
	replyCheck := func(topic, replyTopic string, payload func(tid string) string) check {
		return func(t *testing.T) {
			tid := nextTID("ok")
			dev.pub(t, topic, payload(tid))
			replies.await(t, "reply on "+replyTopic, func(m mqttMsg) bool { return m.Topic == replyTopic && m.str("tid") == tid })
		}
	}
	for _, c := range []struct {
		topic string
		// dataUsed: the topic's data is parsed, so a string data counts too.
		dataUsed bool
		valid    check
	}{
		{"sys/product/" + gw + "/status", true, replyCheck("sys/product/"+gw+"/status", "sys/product/"+gw+"/status_reply",
			func(tid string) string { return topoMsg(tid, gw, ac) })},
		{"thing/product/" + gw + "/osd", true, func(t *testing.T) {
			mark := nextTID("osd")
			dev.pub(t, "thing/product/"+gw+"/osd", msg(mark, "", map[string]any{"mark": mark}, nil))
			waitFor(t, "the osd after the garbage", func() bool {
				d, _ := tp.Device(gw)
				return strings.Contains(string(d.OSD), mark)
			})
		}},
		{"thing/product/" + ac + "/osd", true, func(t *testing.T) {
			mark := nextTID("osd")
			dev.pub(t, "thing/product/"+ac+"/osd", msg(mark, "", map[string]any{"mark": mark}, map[string]any{"gateway": gw}))
			waitFor(t, "the aircraft osd after the garbage", func() bool {
				d, _ := tp.Device(gw)
				for _, sd := range d.SubDevices {
					if sd.SN == ac && strings.Contains(string(sd.OSD), mark) {
						return true
					}
				}
				return false
			})
		}},
		{"thing/product/" + gw + "/state", true, replyCheck("thing/product/"+gw+"/state", "thing/product/"+gw+"/state_reply",
			func(tid string) string { return msg(tid, "", map[string]any{"x": 1}, map[string]any{"need_reply": 1}) })},
		{"thing/product/" + ac + "/state", true, replyCheck("thing/product/"+ac+"/state", "thing/product/"+ac+"/state_reply",
			func(tid string) string {
				return msg(tid, "", map[string]any{"y": 1}, map[string]any{"need_reply": true, "gateway": gw})
			})},
		{"thing/product/" + gw + "/events", false, replyCheck("thing/product/"+gw+"/events", "thing/product/"+gw+"/events_reply",
			func(tid string) string { return msg(tid, "hms", map[string]any{}, map[string]any{"need_reply": 1}) })},
		{"thing/product/" + gw + "/requests", true, replyCheck("thing/product/"+gw+"/requests", "thing/product/"+gw+"/requests_reply",
			func(tid string) string { return msg(tid, "config", map[string]any{}, nil) })},
		{"thing/product/" + gw + "/services_reply", false, func(t *testing.T) {
			var out struct{ Result int }
			if code := tp.do(t, "POST", "/api/v1/devices/"+gw+"/services/debug_mode_open", `{}`, &out); code != 200 || out.Result != 0 {
				t.Fatalf("service after the garbage = %d %+v", code, out)
			}
			dock.next(t, "debug_mode_open")
		}},
		{"thing/product/" + gw + "/property/set_reply", false, func(t *testing.T) {
			tid := nextTID("set")
			dev.pub(t, "thing/product/"+gw+"/property/set_reply", msg(tid, "", map[string]any{"night_lights_state": map[string]any{"result": 0}}, nil))
			ev.await(t, "property_set_reply", func(e sseEvent) bool {
				return e.Type == EventPropertySetReply && strings.Contains(string(e.Data), "night_lights_state")
			})
		}},
		{"thing/product/" + gw + "/drc/up", false, func(t *testing.T) {
			dev.pub(t, "thing/product/"+gw+"/drc/up", msg(nextTID("drc"), "drone_emergency_stop", map[string]any{"result": 0}, nil))
			ev.await(t, "drc", func(e sseEvent) bool { return e.Type == EventDRC && e.field("method") == "drone_emergency_stop" })
		}},
	} {
		t.Run(strings.ReplaceAll(c.topic, "/", "_"), func(t *testing.T) {
			before := malformedCount(t, tp.Plane)
			for i, p := range append(append([]string{}, unparsable...), oddlyTyped...) {
				pubRaw(t, dev, dir, c.topic, p, i)
			}
			c.valid(t)
			want := float64(len(unparsable))
			if c.dataUsed {
				want++ // the string data of oddlyTyped[0]
			}
			// The valid message was handled after every bad one (one
			// publisher's messages are handled in order), so the count is
			// final.
			if got := malformedCount(t, tp.Plane) - before; got < want {
				t.Errorf("malformed messages counted: %v, want at least %v", got, want)
			}
		})
	}
	if d, ok := tp.Device(gw); !ok || !d.Online {
		t.Fatalf("the gateway is no longer online after the garbage: %+v", d)
	}
}

// pubRaw publishes payload as is: from a file, so NUL bytes and 40 kB
// survive, or as a zero-length message.
func pubRaw(t *testing.T, d mqttPeer, dir, topic, payload string, i int) {
	t.Helper()
	args := append(d.args(), "-q", "1", "-t", topic)
	if payload == "" {
		args = append(args, "-n")
	} else {
		f := filepath.Join(dir, fmt.Sprintf("p%d", i))
		if err := os.WriteFile(f, []byte(payload), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-f", f)
	}
	if out, err := testpeer.Command(t, "mosquitto_pub", args...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub -t %s: %v: %s", topic, err, out)
	}
}

// malformedCount reads skyrelay_mqtt_malformed_total.
func malformedCount(t testing.TB, p *Plane) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	for _, c := range p.Collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "skyrelay_mqtt_malformed_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("skyrelay_mqtt_malformed_total not exported")
	return 0
}

// TestAPIBadInput: bad bodies and wrong types on every endpoint get a 4xx
// with a JSON error, never a 5xx.
func TestAPIBadInput(t *testing.T) {
	tp := startPlane(t, embeddedConfig(), fastConfig())
	ev := openSSE(t, tp.srv.URL)
	gw := "APIGW"
	dev := mqttPeer{port: tp.port(t), version: "mqttv311"}
	newScriptedDock(t, dev, gw)
	dev.pub(t, "sys/product/"+gw+"/status", topoMsg(nextTID("topo"), gw, "APIAIR"))
	dev.pub(t, "thing/product/"+gw+"/state", msg(nextTID("cap"), "", dockCapacity(gw, "APIAIR"), nil))
	ev.await(t, "live_capacity", func(e sseEvent) bool {
		return e.Type == EventState && strings.Contains(string(e.Data), "live_capacity")
	})
	vid := gw + "/165-0-7/normal-0"
	svc := "/api/v1/devices/" + gw + "/services/debug_mode_open"
	badBodies := []string{`{`, `[]`, `"x"`, `5`, `{"a":}`, `{"a":1}{"b":2}`, "\xff\xfe", `{"a":1,}`, `tru`}
	type tc struct{ method, path, body string }
	var cases []tc
	for _, b := range badBodies {
		cases = append(cases, tc{"POST", svc, b}, tc{"POST", "/api/v1/live", b}, tc{"PATCH", "/api/v1/live/" + vid, b})
	}
	cases = append(cases,
		tc{"POST", "/api/v1/devices/" + gw + "/services/Not-A-Method", `{}`},
		tc{"POST", "/api/v1/devices/NOPE/services/debug_mode_open", `{}`},
		tc{"POST", svc, `{"a":"` + strings.Repeat("x", maxBody) + `"}`},
		tc{"POST", "/api/v1/live", `{"video_id":["a"]}`},
		tc{"POST", "/api/v1/live", `{"video_id":"` + vid + `","quality":"3"}`},
		tc{"POST", "/api/v1/live", `{"video_id":"` + vid + `","quality":1e400}`},
		tc{"POST", "/api/v1/live", `{"video_id":"` + vid + `","quality":-1}`},
		tc{"POST", "/api/v1/live", `{"video_id":"` + vid + `","protocol":5}`},
		tc{"POST", "/api/v1/live", `{"video_id":"` + vid + `","protocol":"ftp"}`},
		tc{"POST", "/api/v1/live", `{"video_id":"` + strings.Repeat("A/", 5000) + `"}`},
		tc{"POST", "/api/v1/live", `null`},
		tc{"POST", "/api/v1/live", ``},
		tc{"PATCH", "/api/v1/live/" + vid, `{"quality":"high"}`},
		tc{"PATCH", "/api/v1/live/" + vid, `{"lens":5}`},
		tc{"PATCH", "/api/v1/live/" + vid, `{}`},
		tc{"PATCH", "/api/v1/live/" + vid, `{"quality":1}`}, // no session
		tc{"DELETE", "/api/v1/live/" + vid, ``},
		tc{"GET", "/api/v1/live/" + vid, ``},
		tc{"GET", "/api/v1/devices/NOPE", ``},
		tc{"PUT", "/api/v1/live", `{}`},
		tc{"POST", "/api/v1/devices", `{}`},
		tc{"GET", "/api/v1/nothing", ``},
	)
	for _, c := range cases {
		var e apiErr
		code := tp.do(t, c.method, c.path, c.body, &e)
		body := c.body
		if len(body) > 60 {
			body = body[:60] + "..."
		}
		if code < 400 || code >= 500 || e.Error.Code == "" || e.Error.Message == "" {
			t.Errorf("%s %s %q = %d %+v, want a 4xx JSON error", c.method, c.path, body, code, e)
		}
	}

	// With a live session too: PATCH with bad values is a 400.
	tp.media.instant = true
	if code := tp.do(t, "POST", "/api/v1/live", `{"video_id":"`+vid+`"}`, nil); code != 201 {
		t.Fatalf("POST = %d", code)
	}
	for _, b := range []string{`{"quality":9}`, `{"quality":-3}`, `{"lens":""}`, `{"lens":"nope"}`, `{"quality":"1"}`, `{"qualty":1}`} {
		var e apiErr
		if code := tp.do(t, "PATCH", "/api/v1/live/"+vid, b, &e); code != 400 || e.Error.Code == "" {
			t.Errorf("PATCH %s = %d %+v, want 400", b, code, e)
		}
	}
}

// discardBus stands in for the broker in fuzzing and benchmarks: replies
// go nowhere.
type discardBus struct{}

func (discardBus) Publish(context.Context, string, []byte) error { return nil }
func (discardBus) Subscribe([]string, broker.Handler) error      { return nil }
func (discardBus) Send(string, []byte)                           {}

// newBarePlane is a plane without a broker, fed through onMessage.
func newBarePlane(t testing.TB) *Plane {
	p := New(embeddedConfig(), fastConfig(), newFakeMedia(), testLogger(t))
	p.bus = discardBus{}
	return p
}

// FuzzOnMessage feeds arbitrary payloads on every subscribed topic to the
// message handler: it must never panic, the device list must stay
// encodable (the API answers it as JSON), and the aircraft must stay a
// sub-device whatever comes on its topics.
func FuzzOnMessage(f *testing.F) {
	topics := []string{
		"sys/product/GW/status", "thing/product/GW/osd", "thing/product/GW/state", "thing/product/AIR/state",
		"thing/product/AIR/osd", "thing/product/GW/services_reply", "thing/product/GW/events",
		"thing/product/GW/requests", "thing/product/GW/property/set_reply", "thing/product/GW/drc/up",
		"thing/product/AIR/events", "thing/product/AIR/requests", "thing/product/AIR/services_reply",
	}
	for _, p := range append(append([]string{}, unparsable...), oddlyTyped...) {
		f.Add(uint8(2), []byte(p))
	}
	f.Add(uint8(0), []byte(topoMsg("t", "GW", "AIR")))
	f.Add(uint8(2), []byte(msg("c", "", dockCapacity("GW", "AIR"), map[string]any{"gateway": "GW"})))
	f.Add(uint8(2), []byte(msg("l", "", map[string]any{"live_status": []any{map[string]any{"video_id": "AIR/99-0-0/normal-0", "status": 1, "video_quality": 3}}}, nil)))
	f.Add(uint8(1), []byte(msg("o", "", map[string]any{"live_status": []any{map[string]any{"video_id": "AIR/99-0-0/normal-0", "status": 1}}}, nil)))
	f.Add(uint8(7), []byte(msg("r", "airport_organization_bind", map[string]any{"bind_devices": []any{map[string]any{"sn": 5}}}, nil)))
	f.Add(uint8(7), []byte(msg("r", "airport_bind_status", map[string]any{"devices": "x"}, nil)))
	f.Add(uint8(6), []byte(msg("e", "hms", nil, map[string]any{"need_reply": "1"})))
	// Dock 3 shapes: the aircraft's hms on its own topic, a lens-named
	// live_status, an osd fragment, a state of the wrong types.
	f.Add(uint8(10), []byte(hmsEvent("h", "GW")))
	f.Add(uint8(2), []byte(msg("w", "", map[string]any{"live_status": []any{map[string]any{"video_id": "AIR/99-0-0/wide-0", "video_type": "zoom", "status": 1}}}, map[string]any{"gateway": "GW"})))
	f.Add(uint8(1), []byte(msg("f", "", map[string]any{"mode_code": 4, "cover_state": 1}, map[string]any{"gateway": "GW"})))
	f.Add(uint8(3), []byte(`{"tid":"m","need_reply":1,"gateway":"GW","data":{"live_capacity":"not-an-object","live_status":{"video_id":5}}}`))
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		p := newBarePlane(t)
		defer p.Close()
		// A topology first, so state and osd land on a known gateway too.
		p.onMessage(topics[0], []byte(topoMsg("t0", "GW", "AIR")))
		p.onMessage(topics[int(which)%len(topics)], payload)
		if _, err := json.Marshal(p.Devices()); err != nil {
			t.Fatalf("devices not encodable after %q: %v", payload, err)
		}
		// The aircraft update_topo placed under GW never becomes a gateway.
		if _, ok := p.Device("AIR"); ok {
			t.Fatalf("the aircraft became a device after %q", payload)
		}
	})
}
