package control

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/control/cloudapi"
)

func TestPullURL(t *testing.T) {
	for _, c := range []struct {
		raw, want string
	}{
		{`"rtsp://viewer:s3cret@192.168.8.23:8554/live/1"`, "rtsp://viewer:s3cret@192.168.8.23:8554/live/1"},
		{`" rtsp://10.0.0.2:8554/streaming/live/1 "`, "rtsp://10.0.0.2:8554/streaming/live/1"},
		{`{"url":"rtsp://u:p@10.0.0.2:8554/live/1"}`, "rtsp://u:p@10.0.0.2:8554/live/1"},
		{`{"rtsp_url":"rtsp://10.0.0.2/live/1","other":1}`, "rtsp://10.0.0.2/live/1"},
		{`{"address":"rtsp://10.0.0.2/live/1"}`, "rtsp://10.0.0.2/live/1"},
		{`{"info":"rtsp://10.0.0.2/live/1"}`, "rtsp://10.0.0.2/live/1"},
	} {
		got, err := pullURL(json.RawMessage(c.raw))
		if err != nil || got != c.want {
			t.Errorf("pullURL(%s) = %q, %v; want %q", c.raw, got, err, c.want)
		}
	}
	for _, raw := range []string{``, `null`, `5`, `"http://x/y"`, `"rtsp://"`, `{"url":"ftp://x"}`, `{}`, `[]`, `{"url":`} {
		if got, err := pullURL(json.RawMessage(raw)); err == nil {
			t.Errorf("pullURL(%s) = %q, want an error", raw, got)
		}
	}
}

// The reply parser takes data.output first and data.info for legacy Pilot
// builds, so both reach pullURL.
func TestPullURLFromReply(t *testing.T) {
	for _, data := range []string{
		`{"result":0,"output":"rtsp://u:p@10.0.0.2:8554/live/1"}`,
		`{"result":0,"info":"rtsp://u:p@10.0.0.2:8554/live/1"}`,
		`{"result":0,"output":{"url":"rtsp://u:p@10.0.0.2:8554/live/1"}}`,
		`{"result":0,"output":null,"info":"rtsp://u:p@10.0.0.2:8554/live/1"}`,
	} {
		r := parseReply(&cloudapi.Envelope{Method: "live_start_push", Data: json.RawMessage(data)})
		got, err := pullURL(r.Output)
		if err != nil || got != "rtsp://u:p@10.0.0.2:8554/live/1" {
			t.Errorf("%s: %q %v", data, got, err)
		}
	}
	if s := conf.RedactURL("rtsp://u:secret@h:1/p"); strings.Contains(s, "secret") {
		t.Errorf("RedactURL kept the password: %s", s)
	}
}

func FuzzPullURL(f *testing.F) {
	f.Add(`"rtsp://u:p@10.0.0.2:8554/live/1"`)
	f.Add(`{"url":"rtsp://h/x"}`)
	f.Add(`{"a":{"url":"rtsp://h/x"}}`)
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := pullURL(json.RawMessage(raw))
		if err == nil && !isRTSP(u) {
			t.Fatalf("accepted %q from %q", u, raw)
		}
	})
}
