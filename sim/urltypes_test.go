package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/ingest/rtsp"
	"github.com/skyrelay/skyrelay/sim"
	"github.com/skyrelay/skyrelay/webrtc"
)

// probeRTSP reads an RTSP URL for two seconds with ffprobe and returns the
// video codec, size and packet count (frames: one packet per frame), or
// ffprobe's error.
func probeRTSP(t *testing.T, u string) (codec string, width, height, frames int, err error) {
	t.Helper()
	bin := tool(t, "ffprobe", "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Decoder warnings (a read that starts mid-GOP says "Missing reference
	// picture") go to stderr and must not be parsed as the JSON answer.
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v", "-count_packets",
		"-show_entries", "stream=codec_name,width,height,nb_read_packets", "-of", "json", "-read_intervals", "%+2", u)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", 0, 0, 0, fmt.Errorf("ffprobe: %v: %s", err, stderr.Bytes())
	}
	var res struct {
		Streams []struct {
			Codec  string `json:"codec_name"`
			Width  int    `json:"width"`
			Height int    `json:"height"`
			Frames string `json:"nb_read_packets"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Streams) == 0 {
		t.Fatalf("ffprobe output: %s (stderr: %s)", out, stderr.Bytes())
	}
	s := res.Streams[0]
	n, _ := strconv.Atoi(s.Frames)
	return s.Codec, s.Width, s.Height, n, nil
}

// url_type 2: the simulated device runs an RTSP server with the
// credentials it was given and replies with its URL — in data.output for
// the dock, in the legacy data.info for the RC in RTSPReplyInfo mode —
// and ffprobe pulls the clip from it.
func TestRTSPServerMode(t *testing.T) {
	broker, port := startMosquitto(t)
	sub := subscribe(t, port, "mqttv311", "#")
	n := make(notes, 1000)
	dockOpts, dockLogs := testOptions(t, broker, 4, n)
	dockOpts.RTSPListen = "127.0.0.1:0"
	runDevice(t, sim.Dock{Options: dockOpts}.Run)
	rcOpts, _ := testOptions(t, broker, 5, n)
	rcOpts.RTSPListen, rcOpts.RTSPReplyInfo = "127.0.0.1:0", true
	runDevice(t, sim.RC{Options: rcOpts}.Run)

	for _, c := range []struct {
		gw, videoID, slot string
	}{
		{dockSN, m4tdSN + "/99-0-0/normal-0", "output"},
		{rcSN, m4tSN + "/89-0-0/normal-0", "info"},
	} {
		sub.find(t, "live_capacity of "+c.gw, stateWith(c.gw, "live_capacity"))
		tid := service(t, port, c.gw, "live_start_push", map[string]any{
			"url_type": 2, "url": "userName=viewer&password=pw-" + c.slot + "&port=8554", "video_id": c.videoID, "video_quality": 2,
		})
		r := sub.find(t, "live_start_push reply", replyTo(c.gw, tid))
		raw, _ := r.data()[c.slot].(string)
		if r.data()["result"] != 0.0 || raw == "" {
			t.Fatalf("%s: want result 0 and the URL in data.%s: %s", c.gw, c.slot, r.Raw)
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "rtsp" || u.User.Username() != "viewer" || u.Path != "/live/1" {
			t.Fatalf("reply URL %q", raw)
		}
		if pw, _ := u.User.Password(); pw != "pw-"+c.slot {
			t.Fatalf("reply URL %q does not carry the password", raw)
		}
		codec, w, h, frames, err := probeRTSP(t, raw)
		if err != nil || codec != "h264" || w != 640 || h != 360 || frames < 25 {
			t.Fatalf("ffprobe %s: %s %dx%d %d frames, %v", u.Redacted(), codec, w, h, frames, err)
		}
		// A wrong password is refused.
		bad := *u
		bad.User = url.UserPassword("viewer", "wrong")
		if _, _, _, _, err := probeRTSP(t, bad.String()); err == nil {
			t.Fatal("ffprobe read the stream with a wrong password")
		}
		sub.find(t, "live_status live", statusWith(c.gw, c.videoID, func(e map[string]any) bool { return e["status"] == 1.0 }))

		tid = service(t, port, c.gw, "live_stop_push", map[string]any{"video_id": c.videoID})
		if r := sub.find(t, "stop reply", replyTo(c.gw, tid)); r.data()["result"] != 0.0 {
			t.Fatalf("live_stop_push: %s", r.Raw)
		}
		if conn, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
			conn.Close()
			t.Fatal("the RTSP server still accepts after live_stop_push")
		}
	}
	// A url without userName/port is refused as a bad url.
	tid := service(t, port, dockSN, "live_start_push", map[string]any{"url_type": 2, "url": "password=x", "video_id": m4tdSN + "/99-0-0/normal-0"})
	if r := sub.find(t, "reply", replyTo(dockSN, tid)); r.data()["result"] != 513014.0 {
		t.Fatalf("bad url_type 2 url: want 513014: %s", r.Raw)
	}
	if strings.Contains(dockLogs.String(), "pw-output") {
		t.Fatal("the RTSP password reached the log")
	}
}

// url_type 4: the simulated RC publishes over WHIP (pion) to Skyrelay's
// WHIP endpoint with the secret in the URL, and ffprobe reads the result
// back over Skyrelay's RTSP server.
func TestWHIPMode(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := gateway.NewHub(5*time.Second, log)
	t.Cleanup(hub.Close)
	auth := &authz.Auth{}
	ws := &webrtc.Server{Listen: "127.0.0.1:0", Hub: hub, Auth: auth, Log: log}
	if err := ws.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ws.Close)
	hs := &gateway.HTTPServer{Address: "127.0.0.1:0", Log: log, WHIP: ws.WHIP()}
	if err := hs.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hs.Close)
	rs := &rtsp.Server{Address: "127.0.0.1:0", Hub: hub, Auth: auth, Log: log}
	if err := rs.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)

	broker, port := startMosquitto(t)
	sub := subscribe(t, port, "mqttv5", "#")
	n := make(notes, 1000)
	opts, logs := testOptions(t, broker, 5, n)
	runDevice(t, sim.RC{Options: opts}.Run)
	sub.find(t, "live_capacity", stateWith(rcSN, "live_capacity"))

	videoID := m4tSN + "/89-0-0/normal-0"
	secret, revoke := auth.Mint(videoID)
	defer revoke()
	// The form DJI firmware requires; the sim refuses any other.
	whip, _ := gateway.SRSWHIPURL("http://"+hs.Addr().String(), videoID, url.Values{"secret": {secret}})
	tid := service(t, port, rcSN, "live_start_push", map[string]any{"url_type": 4, "url": whip, "video_id": videoID})
	if r := sub.find(t, "reply", replyTo(rcSN, tid)); r.data()["result"] != 0.0 {
		t.Fatalf("live_start_push url_type 4: %s", r.Raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hub.WaitReady(ctx, videoID); err != nil {
		t.Fatal(err)
	}
	if src, _ := hub.Stream(videoID).Source(); src.Protocol != "whip" {
		t.Fatalf("source %+v", src)
	}
	codec, w, h, frames, err := probeRTSP(t, "rtsp://"+rs.Addr().String()+"/"+videoID)
	if err != nil || codec != "h264" || w != 640 || h != 360 || frames < 25 {
		t.Fatalf("ffprobe over RTSP: %s %dx%d %d frames, %v", codec, w, h, frames, err)
	}
	tid = service(t, port, rcSN, "live_stop_push", map[string]any{"video_id": videoID})
	if r := sub.find(t, "stop reply", replyTo(rcSN, tid)); r.data()["result"] != 0.0 {
		t.Fatalf("live_stop_push: %s", r.Raw)
	}
	if ws.WHIPCount() != 0 {
		t.Fatal("the WHIP session is still open after live_stop_push")
	}
	if strings.Contains(logs.String(), secret) {
		t.Fatal("the WHIP secret reached the log")
	}
}
