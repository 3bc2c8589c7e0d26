package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestDockLiveGB28181 is the DJI GB28181 flow through the binary: POST
// /api/v1/live with protocol gb28181 hands the (simulated) dock url_type 3
// keys; the dock registers to the platform with the minted password, the
// platform INVITEs the channel, MPEG-PS arrives, the POST answers 201 and
// ffprobe reads the camera back over RTSP. The device is listed in the
// GB28181 API; DELETE hangs up and stops the push.
func TestDockLiveGB28181(t *testing.T) {
	testpeer.Require(t, "ffprobe")
	g := gwproc.Start(t, "")
	d := startDock(t, g, nil)
	video := d.VideoIDs()[2]

	var a liveAnswer
	code := call(t, g, "POST", "/api/v1/live", fmt.Sprintf(`{"video_id":%q,"protocol":"gb28181"}`, video), &a)
	if code != 201 || a.Protocol != "gb28181" {
		t.Fatalf("POST /api/v1/live gb28181: %d %+v", code, a)
	}
	ctx := testpeer.Context(t, 30*time.Second)
	if v, ok := testpeer.FFprobe(t, ctx, a.Play.RTSP, "-rtsp_transport", "tcp").Video(); !ok || v.Codec != "h264" || v.Width == 0 {
		t.Fatalf("RTSP read of the GB28181 push: %+v", v)
	}
	var s struct {
		Source struct{ Protocol string } `json:"source"`
	}
	if call(t, g, "GET", "/api/v1/streams/"+video, "", &s); s.Source.Protocol != "gb28181" {
		t.Fatalf("stream source %q, want gb28181", s.Source.Protocol)
	}
	if devs := httpGet(t, g.URL("/api/v1/gb28181/devices")); !strings.Contains(devs, `"items":[{`) {
		t.Fatalf("GB28181 devices: %s", devs)
	}

	if code := call(t, g, "DELETE", "/api/v1/live/"+video, "", nil); code != 204 {
		t.Fatalf("DELETE answered %d", code)
	}
	eventually(t, 20*time.Second, "the GB28181 stream to end", func() bool {
		var st struct {
			Online bool `json:"online"`
		}
		return call(t, g, "GET", "/api/v1/streams/"+video, "", &st) == 404 || !st.Online
	})
}
