package cluster

import (
	"sort"
	"strings"
	"testing"
)

func TestSnapshot(t *testing.T) {
	s := newSnapshot()
	for _, m := range []Message{
		{"sys/product/GW1/status", []byte(`{"tid":"1","method":"update_topo","data":{"sub_devices":[]}}`)},
		{"sys/product/GW1/status", []byte(`{"tid":"2","method":"update_topo","data":{"sub_devices":[{"sn":"AC1"}]}}`)},
		{"thing/product/AC1/state", []byte(`{"tid":"3","data":{"live_capacity":{"a":1},"firmware_version":"1"}}`)},
		{"thing/product/AC1/state", []byte(`{"tid":"4","data":{"firmware_version":"2"}}`)},
		{"thing/product/AC1/state", []byte(`{"tid":"5","data":"not an object"}`)},
		{"thing/product/AC1/state", []byte(`{`)},
		{"thing/product/AC1/osd", []byte(`{"tid":"6","data":{}}`)},
		{"sys/product/GW2/status", []byte(strings.Repeat(" ", maxSnapshotMessage+1))},
	} {
		s.record(m.Topic, m.Payload)
	}
	var got []string
	for _, m := range s.messages() {
		got = append(got, m.Topic+" "+string(m.Payload[:10]))
	}
	sort.Strings(got)
	want := []string{
		`sys/product/GW1/status {"tid":"2"`,  // the last update_topo
		`thing/product/AC1/state {"tid":"3"`, // still the last with live_capacity
		`thing/product/AC1/state {"tid":"4"`, // the last with firmware_version
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("snapshot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
