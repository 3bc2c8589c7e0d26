package cluster

import (
	"strings"
	"testing"
)

func TestParseEntry(t *testing.T) {
	ok := `{"node_id":"a","boot_id":"1","http":"http://10.0.0.1:8080","rtsp":"rtsp://10.0.0.1:8554","pushes":[{"path":"SN/1-0-0/normal-0","protocol":"rtmp"}],"updated_at":"2026-01-01T00:00:00Z"}`
	for _, tc := range []struct {
		name, topic, payload string
		gone                 bool
		err                  string
	}{
		{"an entry", TopicPrefix + "a", ok, false, ""},
		{"the will: empty", TopicPrefix + "a", "", true, ""},
		{"another topic", "skyrelay/other/a", ok, false, "topic"},
		{"a deeper topic", TopicPrefix + "a/b", ok, false, "topic"},
		{"no node id on the topic", TopicPrefix, ok, false, "topic"},
		{"node id differs from the topic", TopicPrefix + "b", ok, false, "node_id"},
		{"not JSON", TopicPrefix + "a", "{", false, "malformed"},
		{"no http", TopicPrefix + "a", `{"node_id":"a"}`, false, "http"},
		{"http not a URL", TopicPrefix + "a", `{"node_id":"a","http":"10.0.0.1"}`, false, "http"},
		{"bad rtsp", TopicPrefix + "a", `{"node_id":"a","http":"http://h:1","rtsp":"http://h:2"}`, false, "rtsp"},
		{"push without path", TopicPrefix + "a", `{"node_id":"a","http":"http://h:1","pushes":[{"protocol":"rtmp"}]}`, false, "path"},
		{"too big", TopicPrefix + "a", `{"node_id":"a","http":"http://h:1","x":"` + strings.Repeat("x", maxEntry) + `"}`, false, "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, gone, err := ParseEntry(tc.topic, []byte(tc.payload))
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			case gone != tc.gone:
				t.Fatalf("gone = %v", gone)
			case err == nil && e.NodeID != "a":
				t.Fatalf("node id %q", e.NodeID)
			}
		})
	}
}

func FuzzParseEntry(f *testing.F) {
	f.Add(TopicPrefix+"a", []byte(`{"node_id":"a","http":"http://h:1","pushes":[{"path":"p","protocol":"rtmp"}]}`))
	f.Add(TopicPrefix+"a", []byte{})
	f.Add("x", []byte("{"))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		e, gone, err := ParseEntry(topic, payload)
		if err != nil {
			return
		}
		if !gone && (e.HTTP == "" || e.NodeID == "") {
			t.Fatalf("accepted an entry without http or node id: %+v", e)
		}
		for _, p := range e.Pushes {
			if p.Path == "" {
				t.Fatal("accepted a push without a path")
			}
		}
	})
}
