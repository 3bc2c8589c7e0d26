package rtmp

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
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// env is a hub and an RTMP server on a free loopback port.
type env struct {
	hub  *gateway.Hub
	auth *authz.Auth
	srv  *Server
	log  *testpeer.LogBuffer

	mu       sync.Mutex
	accepted []time.Time // when each connection was accepted
}

func newEnv(t testing.TB, grace time.Duration, tweak ...func(*Server)) *env {
	t.Helper()
	e := &env{auth: &authz.Auth{}, log: &testpeer.LogBuffer{Echo: testing.Verbose()}}
	log := slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.hub = gateway.NewHub(grace, log)
	t.Cleanup(e.hub.Close)
	e.srv = &Server{Address: "127.0.0.1:0", Hub: e.hub, Auth: e.auth, Log: log}
	e.srv.wrapConn = func(c net.Conn) net.Conn {
		e.mu.Lock()
		e.accepted = append(e.accepted, time.Now())
		e.mu.Unlock()
		return c
	}
	for _, f := range tweak {
		f(e.srv)
	}
	if err := e.srv.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) url(path string) string { return "rtmp://" + e.srv.Addr().String() + "/" + path }

// lastAccept is when the newest connection was accepted.
func (e *env) lastAccept() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.accepted) == 0 {
		return time.Time{}
	}
	return e.accepted[len(e.accepted)-1]
}

// waitReady waits until path has a playable stream.
func (e *env) waitReady(t testing.TB, path string, within time.Duration) *gateway.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := e.hub.WaitReady(ctx, path); err != nil {
		t.Fatalf("%s did not become playable within %v: %v\nserver log:\n%s", path, within, err, e.log)
	}
	return e.hub.Stream(path)
}

// sink is a gateway.Reader that records every frame it gets.
type sink struct {
	r *gateway.Reader

	mu     sync.Mutex
	frames []gateway.Frame
}

func attach(t testing.TB, st *gateway.Stream) *sink {
	t.Helper()
	k := &sink{}
	k.r = &gateway.Reader{Protocol: "test", RemoteAddr: "test", Handle: func(f gateway.Frame) error {
		k.mu.Lock()
		k.frames = append(k.frames, f)
		k.mu.Unlock()
		return nil
	}}
	if err := st.AddReader(k.r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.r.Close)
	return k
}

// video returns the video frames received so far.
func (k *sink) video() []gateway.Frame {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []gateway.Frame
	for _, f := range k.frames {
		if f.Track.Codec.IsVideo() {
			out = append(out, f)
		}
	}
	return out
}

// waitVideo waits until n video frames arrived.
func (k *sink) waitVideo(t testing.TB, n int, within time.Duration) []gateway.Frame {
	t.Helper()
	testpeer.Eventually(t, within, "video frames at the reader", func() bool { return len(k.video()) >= n })
	return k.video()
}

// pushFFmpeg publishes a clip with ffmpeg in real time, looped unless
// once is set.
func pushFFmpeg(t testing.TB, clip, url string, loop bool) *testpeer.Proc {
	t.Helper()
	args := []string{"-hide_banner", "-loglevel", "info", "-re"}
	if loop {
		args = append(args, "-stream_loop", "-1")
	}
	args = append(args, "-i", clip, "-c", "copy", "-f", "flv", url)
	return testpeer.Start(t, "ffmpeg", args...)
}

// probe is what ffprobe decoded from a URL.
type probe struct {
	Codec  string
	Width  int
	Height int
	Frames int
	Stderr string
}

// probeVideo reads the first seconds of url's video with ffprobe and
// decodes them (-count_frames), which a broken bitstream would fail.
func probeVideo(t testing.TB, url, seconds string) probe {
	t.Helper()
	p, err := probeVideoErr(t, url, seconds)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// probeVideoErr is probeVideo for other goroutines than the test's.
func probeVideoErr(t testing.TB, url, seconds string) (probe, error) {
	testpeer.Require(t, "ffprobe")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffprobe", "-v", "warning", "-select_streams", "v", "-count_frames",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json",
		"-read_intervals", "%+"+seconds, url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return probe{}, fmt.Errorf("ffprobe %s: %v: %s", url, err, stderr.String())
	}
	var raw struct {
		Streams []struct {
			CodecName    string `json:"codec_name"`
			Width        int    `json:"width"`
			Height       int    `json:"height"`
			NbReadFrames string `json:"nb_read_frames"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &raw); err != nil || len(raw.Streams) == 0 {
		return probe{}, fmt.Errorf("ffprobe %s: no video stream in %q (%v)", url, stdout.String(), err)
	}
	s := raw.Streams[0]
	p := probe{Codec: s.CodecName, Width: s.Width, Height: s.Height, Stderr: stderr.String()}
	p.Frames, _ = strconv.Atoi(s.NbReadFrames)
	return p, nil
}

// probeStreams lists the kinds of stream ffprobe finds at url; it may run
// in any goroutine.
func probeStreams(url string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := testpeer.ProbeURL(ctx, url, "-read_intervals", "%+2")
	if err != nil {
		return nil, err
	}
	var kinds []string
	for _, s := range res.Streams {
		kinds = append(kinds, s.CodecType)
	}
	return kinds, nil
}

// elementary returns a clip's video as access units (NAL units without
// start codes), cut from the Annex-B stream ffmpeg copies out of it.
func elementary(t testing.TB, clip string, hevc bool) [][][]byte {
	t.Helper()
	testpeer.Require(t, "ffmpeg")
	out := filepath.Join(t.TempDir(), "es")
	f, bsf := "h264", "h264_mp4toannexb"
	if hevc {
		f, bsf = "hevc", "hevc_mp4toannexb"
	}
	if b, err := exec.Command("ffmpeg", "-v", "error", "-i", clip, "-c:v", "copy", "-bsf:v", bsf, "-an",
		"-f", f, out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	es, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	aus := accessUnits(es, hevc)
	if len(aus) == 0 {
		t.Fatal("no access units in the clip")
	}
	return aus
}

// accessUnits cuts Annex-B into access units: a new one starts with the
// first non-VCL unit (parameter sets, SEI, AUD) or first slice of a
// picture that follows a slice.
func accessUnits(es []byte, hevc bool) [][][]byte {
	var aus [][][]byte
	var cur [][]byte
	hasSlice := false
	for _, n := range bytes.Split(es, []byte{0, 0, 1}) {
		n = bytes.TrimRight(n, "\x00")
		if len(n) == 0 {
			continue
		}
		var vcl, first bool
		if hevc {
			typ := (n[0] >> 1) & 0x3f
			vcl = typ < 32
			first = vcl && len(n) > 2 && n[2]&0x80 != 0
		} else {
			typ := n[0] & 0x1f
			vcl = typ == 1 || typ == 5
			first = vcl && len(n) > 1 && n[1]&0x80 != 0
		}
		if hasSlice && (!vcl || first) {
			aus = append(aus, cur)
			cur, hasSlice = nil, false
		}
		cur = append(cur, n)
		hasSlice = hasSlice || vcl
	}
	if hasSlice {
		aus = append(aus, cur)
	}
	return aus
}

// dialPublish opens a publishing RTMP connection with gortmplib's client,
// to send tags crafted by the test.
func dialPublish(t testing.TB, rawURL string) *gortmplib.Client {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c := &gortmplib.Client{URL: u, Publish: true}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Initialize(ctx); err != nil {
		t.Fatalf("RTMP publish to %s: %v", rawURL, err)
	}
	t.Cleanup(c.Close)
	return c
}

// closedWithin drains a connection and fails unless the server closes it
// within the given time.
func closedWithin(t testing.TB, c net.Conn, within time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v", within)
	}
}

// hasNALU tells whether any frame carries a NAL unit whose header byte
// matches.
func hasNALU(frames []gateway.Frame, match func(b byte) bool) bool {
	for _, f := range frames {
		for _, n := range f.Unit.Payload {
			if len(n) > 0 && match(n[0]) {
				return true
			}
		}
	}
	return false
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
