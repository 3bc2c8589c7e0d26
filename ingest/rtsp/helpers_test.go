package rtsp

import (
	"context"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/hls/hlstest"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

func testLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// env is a hub and an RTSP server on loopback with free TCP and UDP ports.
type env struct {
	hub  *gateway.Hub
	auth *authz.Auth
	srv  *Server
	base string // rtsp://127.0.0.1:PORT
}

func newEnv(t testing.TB, grace time.Duration, tweak ...func(*Server)) *env {
	t.Helper()
	log := testLog()
	hub := gateway.NewHub(grace, log)
	t.Cleanup(hub.Close)
	e := &env{hub: hub, auth: &authz.Auth{}}
	e.srv = &Server{Address: "127.0.0.1:0", UDPRTPAddress: "127.0.0.1:0", UDPRTCPAddress: "127.0.0.1:0",
		Hub: hub, Auth: e.auth, Log: log}
	for _, f := range tweak {
		f(e.srv)
	}
	if err := e.srv.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.srv.Close)
	e.base = "rtsp://" + e.srv.Addr().String()
	return e
}

func (e *env) url(path string) string { return e.base + "/" + path }

// waitReady waits until path has a playable stream.
func (e *env) waitReady(t testing.TB, path string, within time.Duration) *gateway.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := e.hub.WaitReady(ctx, path); err != nil {
		t.Fatalf("%s did not become playable within %v: %v", path, within, err)
	}
	return e.hub.Stream(path)
}

// push starts ffmpeg publishing clip in a loop, in real time, over RTSP
// with transport "tcp" or "udp".
func push(t testing.TB, clip, transport, url string) *testpeer.Proc {
	t.Helper()
	return testpeer.Start(t, "ffmpeg", "-hide_banner", "-loglevel", "info", "-re", "-stream_loop", "-1", "-i", clip,
		"-c", "copy", "-f", "rtsp", "-rtsp_transport", transport, url)
}

// avClip is a 320x240 25 fps H.264 clip with AAC audio, 4 s, a keyframe
// every second, no B-frames.
func avClip(t testing.TB) string { return testpeer.Clip(t, testpeer.ClipH264SmallAAC) }

// probeAV reads url with ffprobe over transport and checks the clip's
// video (h264 320x240) and, when audio is set, its AAC track.
func probeAV(t testing.TB, url, transport string, audio bool) {
	t.Helper()
	ctx := testpeer.Context(t, 30*time.Second)
	res := testpeer.FFprobe(t, ctx, url, "-rtsp_transport", transport, "-read_intervals", "%+3")
	v, ok := res.Video()
	if !ok || v.Codec != "h264" || v.Width != 320 || v.Height != 240 || v.Packets <= 0 {
		t.Fatalf("ffprobe over %s: video %+v, want h264 320x240 with packets\n%s", transport, v, res.JSON)
	}
	if audio {
		a, ok := res.Audio()
		if !ok || a.Codec != "aac" || a.Packets <= 0 {
			t.Fatalf("ffprobe over %s: audio %+v, want aac with packets\n%s", transport, a, res.JSON)
		}
	}
	t.Logf("ffprobe over %s: video %d packets, streams %d", transport, v.Packets, len(res.Streams))
}

// frames returns the last frame count an ffmpeg run with -progress
// printed, or -1 before the first.
func frames(p *testpeer.Proc) int {
	lines := p.Lines()
	for i := len(lines) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(lines[i], "frame="); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				return n
			}
		}
	}
	return -1
}

// readerCount is how many readers of protocol rtsp path has.
func readerCount(s *gateway.Stream) int {
	if s == nil {
		return 0
	}
	n := 0
	for _, r := range s.Readers() {
		if r.Protocol == "rtsp" {
			n++
		}
	}
	return n
}

func (e *env) outputs() int {
	e.srv.mu.Lock()
	defer e.srv.mu.Unlock()
	return len(e.srv.outputs)
}

// hlstestClip is a 320x240 25 fps H.264 clip cut into access units.
func hlstestClip(t testing.TB) *hlstest.Clip { return hlstest.H264Clip(t, 320, 240, 25, 4) }

// publishCore publishes clip (and a sine tone in AAC) straight into the
// hub, in real time, the way the RTMP ingest does.
func publishCore(t testing.TB, e *env, path string, clip *hlstest.Clip, audio bool) *hlstest.Publisher {
	t.Helper()
	if audio {
		return hlstest.PublishAV(t, e.hub, path, clip, hlstest.AAC(t, 4))
	}
	return hlstest.Publish(t, e.hub, path, clip)
}
