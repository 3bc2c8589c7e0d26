package control

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// TestRequestsBinding plays a dock through Pilot 2's cloud access with
// auto_bind off and a binding code, over MQTT 3.1.1: every request that
// would otherwise stall the dock is answered from the configuration, and
// binding changes what airport_bind_status says.
func TestRequestsBinding(t *testing.T) {
	c := fastConfig()
	c.AutoBind = false
	c.BindingCode = "CODE42"
	c.OrganizationID, c.OrganizationName = "org-7", "Org Seven"
	c.NTPServerHost, c.NTPServerPort = "ntp.example.test", 1123
	tp := startPlane(t, embeddedConfig(), c)
	gw, ac := "BINDDOCK", "BINDAIR"
	dev := mqttPeer{port: tp.port(t), version: "mqttv311"}
	replies := dev.sub(t, "thing/product/"+gw+"/requests_reply", "thing/product/"+gw+"/events_reply")
	ask := func(method, data string) mqttMsg {
		t.Helper()
		tid := nextTID("req")
		dev.pub(t, "thing/product/"+gw+"/requests", fmt.Sprintf(`{"tid":%q,"bid":"b-%s","timestamp":1,"method":%q,"data":%s}`, tid, tid, method, data))
		r := replies.await(t, method+" reply", func(m mqttMsg) bool { return m.Topic == "thing/product/"+gw+"/requests_reply" && m.str("tid") == tid })
		if r.str("method") != method || r.str("bid") != "b-"+tid {
			t.Fatalf("%s reply = %s", method, r.Raw)
		}
		return r
	}
	output := func(r mqttMsg) map[string]json.RawMessage {
		var o map[string]json.RawMessage
		_ = json.Unmarshal(r.data()["output"], &o)
		return o
	}

	// config: every field from the configuration, directly in data.
	d := ask("config", `{"config_type":"json","config_scope":"product"}`).data()
	for k, want := range map[string]string{"app_id": "123456", "app_key": "app-key-secret", "app_license": "app-license-secret",
		"ntp_server_host": "ntp.example.test", "ntp_server_port": "1123"} {
		if got := cloudapi.String(d[k]); got != want {
			t.Errorf("config %s = %q, want %q", k, got, want)
		}
	}

	bindStatus := func() map[string]map[string]json.RawMessage {
		t.Helper()
		r := ask("airport_bind_status", `{"devices":[{"sn":"`+gw+`"},{"sn":"`+ac+`"}]}`)
		if string(r.data()["result"]) != "0" {
			t.Fatalf("airport_bind_status = %s", r.Raw)
		}
		var list []map[string]json.RawMessage
		_ = json.Unmarshal(output(r)["bind_status"], &list)
		out := map[string]map[string]json.RawMessage{}
		for _, e := range list {
			out[cloudapi.String(e["sn"])] = e
		}
		if len(out) != 2 {
			t.Fatalf("airport_bind_status lists %d devices: %s", len(out), r.Raw)
		}
		return out
	}
	for sn, e := range bindStatus() {
		if string(e["is_device_bind_organization"]) != "false" || cloudapi.String(e["organization_id"]) != "" {
			t.Errorf("%s before binding: %v", sn, e)
		}
	}

	// airport_organization_get checks the code and the organization.
	for _, c := range []struct {
		data   string
		result string
	}{
		{`{"device_binding_code":"CODE42","organization_id":"org-7"}`, "0"},
		{`{"device_binding_code":"CODE42"}`, "0"},
		{`{"device_binding_code":"WRONG","organization_id":"org-7"}`, "1"},
		{`{"device_binding_code":"CODE42","organization_id":"other"}`, "1"},
		{`{"device_binding_code":42}`, "1"},
	} {
		r := ask("airport_organization_get", c.data)
		if string(r.data()["result"]) != c.result {
			t.Errorf("airport_organization_get %s = %s, want result %s", c.data, r.Raw, c.result)
		}
		if c.result == "0" && cloudapi.String(output(r)["organization_name"]) != "Org Seven" {
			t.Errorf("airport_organization_get %s = %s", c.data, r.Raw)
		}
	}

	// airport_organization_bind: the dock with the right code, the
	// aircraft with a wrong one.
	r := ask("airport_organization_bind", `{"bind_devices":[`+
		`{"sn":"`+gw+`","device_binding_code":"CODE42","organization_id":"org-7","device_callsign":"Dock A"},`+
		`{"sn":"`+ac+`","device_binding_code":"nope","organization_id":"org-7","device_callsign":"Air A"}]}`)
	var errs []map[string]json.RawMessage
	_ = json.Unmarshal(output(r)["err_infos"], &errs)
	if string(r.data()["result"]) != "0" || len(errs) != 2 || string(errs[0]["err_code"]) != "0" || string(errs[1]["err_code"]) != "1" {
		t.Fatalf("airport_organization_bind = %s", r.Raw)
	}
	st := bindStatus()
	if e := st[gw]; string(e["is_device_bind_organization"]) != "true" || cloudapi.String(e["organization_id"]) != "org-7" ||
		cloudapi.String(e["organization_name"]) != "Org Seven" || cloudapi.String(e["device_callsign"]) != "Dock A" {
		t.Errorf("dock after binding: %v", e)
	}
	if e := st[ac]; string(e["is_device_bind_organization"]) != "false" {
		t.Errorf("aircraft bound with a wrong code: %v", e)
	}

	// Nothing to offer, said at once.
	for _, m := range []string{"flight_areas_get", "offline_map_get"} {
		if r := ask(m, `{}`); string(r.data()["result"]) != "0" {
			t.Errorf("%s = %s", m, r.Raw)
		}
	}
	if r := ask("storage_config_get", `{"module":0}`); string(r.data()["result"]) != "1" {
		t.Errorf("an unserved request = %s, want result 1", r.Raw)
	}

	// events: need_reply as 1, true or "1" gets events_reply; 0 gets none
	// (the first reply seen after it is the next event's).
	for _, nr := range []string{`0`, `1`, `true`, `"1"`} {
		tid := nextTID("ev")
		dev.pub(t, "thing/product/"+gw+"/events", fmt.Sprintf(`{"tid":%q,"bid":"b","timestamp":1,"method":"hms","need_reply":%s,"data":{"list":[]}}`, tid, nr))
		if nr == "0" {
			continue
		}
		r := replies.await(t, "events_reply", func(m mqttMsg) bool { return m.Topic == "thing/product/"+gw+"/events_reply" })
		if r.str("tid") != tid || r.str("method") != "hms" || string(r.data()["result"]) != "0" {
			t.Fatalf("need_reply %s: events_reply = %s (an event without need_reply was answered?)", nr, r.Raw)
		}
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "control", tp.Config)
	if strings.Contains(logged.String(), "app-license-secret") || strings.Contains(logged.String(), "app-key-secret") {
		t.Errorf("the app key or licence shows in the logs: %s", logged.String())
	}
}

// TestRequestAnswers: every request gets an answer on the requests_reply
// of the topic it came on, with the documented result for its method.
func TestRequestAnswers(t *testing.T) {
	const dock, air = "DOCKRQ", "AIRRQ"
	for _, c := range []struct {
		sn, method, data string
		result           int
		keys             []string // in data (config) or data.output
	}{
		{dock, "config", `{"config_type":"json","config_scope":"product"}`, -1, []string{"app_id", "app_key", "app_license", "ntp_server_host"}},
		{dock, "flight_areas_get", `{}`, 0, nil},
		{dock, "offline_map_get", `{}`, 0, nil},
		{dock, "storage_config_get", `{"module":0}`, unservedResult, nil},
		{air, "storage_config_get", `{"module":0}`, unservedResult, nil},
		{dock, "flighttask_resource_get", `{"flight_id":"b5b4e1ab-3d57-4d3b-a1a0-7a5f4b3c2d1e"}`, unservedResult, nil},
		{dock, "airport_bind_status", `{"devices":[{"sn":"DOCKRQ"}]}`, 0, []string{"bind_status"}},
		{dock, "something_new", `{}`, unservedResult, nil},
		{dock, "config", `"not an object"`, -1, []string{"app_id"}},
	} {
		b := newBare(t)
		b.dock3(dock, air)
		tid := nextTID("rq")
		topic := "thing/product/" + c.sn + "/requests"
		b.in(topic, fmt.Sprintf(`{"tid":%q,"bid":"b","timestamp":1,"gateway":%q,"method":%q,"data":%s}`, tid, dock, c.method, c.data))
		rs := b.bus.on(topic + "_reply")
		if len(rs) != 1 || cloudapiString(rs[0].payload["tid"]) != tid || cloudapiString(rs[0].payload["method"]) != c.method {
			t.Fatalf("%s on %s: replies %+v", c.method, topic, rs)
		}
		var d map[string]json.RawMessage
		_ = json.Unmarshal(rs[0].payload["data"], &d)
		if c.result >= 0 && string(d["result"]) != fmt.Sprint(c.result) {
			t.Errorf("%s: result %s, want %d", c.method, d["result"], c.result)
		}
		var out map[string]json.RawMessage
		_ = json.Unmarshal(d["output"], &out)
		for _, k := range c.keys {
			if d[k] == nil && out[k] == nil {
				t.Errorf("%s: no %s in %s", c.method, k, rs[0].payload["data"])
			}
		}
		if len(b.Devices()) != 1 {
			t.Errorf("%s on %s: %d devices", c.method, topic, len(b.Devices()))
		}
	}
}
