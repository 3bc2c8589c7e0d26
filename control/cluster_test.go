package control

import (
	"strings"
	"testing"

	"github.com/skyrelay/skyrelay/conf"
)

// TestSharedReply: the node the shared subscription picked answers as the
// inbox of a single gateway would, from the message alone.
func TestSharedReply(t *testing.T) {
	p := New(conf.MQTT{Broker: "tcp://127.0.0.1:1"}, fastConfig(), nil, nil)
	for _, tc := range []struct {
		name, topic, payload, wantTopic, wantIn string
	}{
		{"update_topo", "sys/product/GW/status", `{"tid":"t1","bid":"b","method":"update_topo","data":{"sub_devices":[]}}`, "sys/product/GW/status_reply", `"result":0`},
		{"state with need_reply", "thing/product/AC/state", `{"tid":"t2","bid":"b","need_reply":1,"data":{"firmware_version":"1"}}`, "thing/product/AC/state_reply", `"result":0`},
		{"state without need_reply", "thing/product/AC/state", `{"tid":"t3","bid":"b","data":{"firmware_version":"1"}}`, "", ""},
		{"malformed state with need_reply", "thing/product/AC/state", `{"tid":"t4","bid":"b","need_reply":1,"data":"x"}`, "thing/product/AC/state_reply", `"result":`},
		{"event with need_reply", "thing/product/GW/events", `{"tid":"t5","bid":"b","method":"hms","need_reply":1,"data":{}}`, "thing/product/GW/events_reply", `"method":"hms"`},
		{"event without", "thing/product/GW/events", `{"tid":"t6","bid":"b","method":"hms","data":{}}`, "", ""},
		{"config request", "thing/product/GW/requests", `{"tid":"t7","bid":"b","method":"config","data":{}}`, "thing/product/GW/requests_reply", `"ntp_server_host"`},
		{"not JSON", "thing/product/GW/requests", `{`, "", ""},
		{"osd owes nothing", "thing/product/GW/osd", `{"tid":"t8","data":{}}`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic, reply := p.sharedReply(tc.topic, []byte(tc.payload))
			if topic != tc.wantTopic || !strings.Contains(string(reply), tc.wantIn) {
				t.Fatalf("reply %q %s, want %q containing %s", topic, reply, tc.wantTopic, tc.wantIn)
			}
			if topic != "" && !strings.Contains(string(reply), `"tid":"`) {
				t.Fatalf("reply without the tid: %s", reply)
			}
		})
	}
}
