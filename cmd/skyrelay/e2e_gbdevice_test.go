package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gb28181/gbsim"
	"github.com/skyrelay/skyrelay/gb28181/platform"
	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
	"github.com/skyrelay/skyrelay/webrtc/whepclient"
)

// TestThirdPartyGBDevice: a GB28181 device that is no DJI push (gbsim,
// with the platform's default password) registers to the binary and lists
// its channels. Viewers on gb28181/{device}/{channel} INVITE it on demand —
// a WHEP viewer (pion), Chromium over WHEP, ffprobe over LL-HLS and over
// RTSP — with one INVITE for them all; idle_stop_after after the last one left the platform sends
// BYE. The API starts and stops a channel too, and the device list answers
// 405 to POST.
func TestThirdPartyGBDevice(t *testing.T) {
	testpeer.Require(t, "ffprobe")
	t.Setenv("SKYRELAY_GB28181_PASSWORD", "pw-3rd-party")
	// The HLS muxer is a viewer until close_after after its last request.
	g := gwproc.Start(t, "control: {idle_stop_after: 2s}\nhls: {close_after: 2s}\n")
	clip, err := os.ReadFile(filepath.Join(testpeer.Root(), "sim", "clip", "clip.h264"))
	if err != nil {
		t.Fatal(err)
	}
	const dev = "34020000001320000091"
	ch := dev[:10] + "1310000001"
	d, err := gbsim.New(gbsim.Config{Server: "127.0.0.1:" + strconv.Itoa(g.SIP), ServerID: platform.DefaultServerID,
		DeviceID: dev, Password: "pw-3rd-party", Clip: clip,
		Channels: []gbsim.Channel{{ID: ch, Name: "主码流"}, {ID: dev[:10] + "1310000002", Name: "副码流"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	ctx := testpeer.Context(t, 90*time.Second)
	if err := d.Register(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the device's catalog in the API", func() bool {
		var in platform.DeviceInfo
		return call(t, g, "GET", "/api/v1/gb28181/devices/"+dev, "", &in) == 200 && len(in.Channels) == 2
	})
	if code := call(t, g, "POST", "/api/v1/gb28181/devices", "{}", nil); code != 405 {
		t.Fatalf("POST /api/v1/gb28181/devices: %d, want 405", code)
	}
	if code := call(t, g, "DELETE", "/api/v1/gb28181/devices", "", nil); code != 405 {
		t.Fatalf("DELETE /api/v1/gb28181/devices: %d, want 405", code)
	}

	path := platform.ChannelPath(dev, ch)
	v := &whepclient.Client{URL: g.URL("/" + path + "/whep")}
	if err := v.Start(ctx); err != nil {
		t.Fatalf("WHEP on %s: %v", path, err)
	}
	if err := v.WaitVideoFrames(ctx, 25); err != nil {
		t.Fatal(err)
	}
	if r := playWHEP(t, g.URL("/"+path+"/whep"), 2*time.Second); r.FramesDecoded < 30 {
		t.Fatalf("Chromium on %s: %+v", path, r)
	}
	for _, u := range []string{g.URL("/" + path + "/index.m3u8"), g.RTSPURL(path)} {
		if vs, ok := testpeer.FFprobe(t, ctx, u, "-read_intervals", "%+2").Video(); !ok || vs.Codec != "h264" || vs.Packets < 25 {
			t.Fatalf("ffprobe %s: %+v", u, vs)
		}
	}
	if st := d.Stats(); st.Invites != 1 {
		t.Fatalf("%d INVITEs for four viewers, want 1", st.Invites)
	}
	v.Close()
	// The last viewer to leave may be the LL-HLS muxer (it closes
	// hls.close_after after its last request) or Chromium, whose DELETE
	// can be aborted as the page closes (its session then ends on the ICE
	// timeout): the BYE follows whichever is last, plus idle_stop_after.
	eventually(t, 60*time.Second, "the BYE after the last viewer", func() bool { return d.Stats().Byes == 1 })

	var pr platform.PlayResponse
	if code := call(t, g, "POST", "/api/v1/gb28181/devices/"+dev+"/channels/"+ch+"/play", "", &pr); code != 201 || pr.Path != path {
		t.Fatalf("API play: %d %+v", code, pr)
	}
	g.WaitReady(t, path, 10*time.Second)
	if code := call(t, g, "DELETE", "/api/v1/gb28181/devices/"+dev+"/channels/"+ch+"/play", "", nil); code != 204 {
		t.Fatalf("API stop: %d", code)
	}
	eventually(t, 10*time.Second, "the BYE of the API stop", func() bool { return d.Stats().Byes == 2 })
}
