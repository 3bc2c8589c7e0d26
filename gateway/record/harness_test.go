package record

import (
	"bytes"
	"fmt"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/ingest/rtmp"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// rig is a stream core with RTMP ingest and a recorder in the test
// process, the recordings API on an httptest server.
type rig struct {
	hub  *gateway.Hub
	rtmp *rtmp.Server
	rec  *Recorder
	api  *httptest.Server

	mu   sync.Mutex
	done []string // finished segment files, in order
	cond chan struct{}
}

func newRig(t *testing.T, configure func(r *Recorder)) *rig {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g := &rig{cond: make(chan struct{}, 1)}
	g.hub = gateway.NewHub(5*time.Second, log)
	t.Cleanup(g.hub.Close)
	g.rtmp = &rtmp.Server{Address: "127.0.0.1:0", Hub: g.hub, Auth: &authz.Auth{}, Log: log}
	if err := g.rtmp.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.rtmp.Close)
	rec := &Recorder{Hub: g.hub, Log: log, Enabled: true, Paths: []string{"**"}, SegmentDuration: time.Hour, PartDuration: time.Second}
	if configure != nil {
		configure(rec)
	}
	if rec.Dir == "" {
		rec.Dir = t.TempDir()
	}
	rec.segmentDone = func(_, file string) {
		g.mu.Lock()
		g.done = append(g.done, file)
		g.mu.Unlock()
		select {
		case g.cond <- struct{}{}:
		default:
		}
	}
	g.rec = rec
	if err := g.rec.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.rec.Close)
	g.hub.OnEvent = func(e gateway.Event) { g.rec.StreamEvent(e.Path, string(e.Kind)) }
	mux := http.NewServeMux()
	mux.Handle("/api/v1/recordings", g.rec.Handler())
	mux.Handle("/api/v1/recordings/", g.rec.Handler())
	g.api = httptest.NewServer(mux)
	t.Cleanup(g.api.Close)
	return g
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// push publishes clip once, in real time, and waits for ffmpeg to end.
func (g *rig) push(t *testing.T, clip, path string, extra ...string) {
	t.Helper()
	ctx := testpeer.Context(t, 90*time.Second)
	args := append([]string{"-v", "error", "-re"}, extra...)
	args = append(args, "-i", clip, "-c", "copy", "-f", "flv", fmt.Sprintf("rtmp://%s/%s", g.rtmp.Addr(), path))
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg push: %v\n%s", err, out)
	}
}

// startPush publishes clip in a loop until the test ends or stop is called.
func (g *rig) startPush(t *testing.T, clip, path string) (stop func()) {
	t.Helper()
	p := testpeer.Start(t, "ffmpeg", "-v", "error", "-re", "-stream_loop", "-1", "-i", clip, "-c", "copy", "-f", "flv",
		fmt.Sprintf("rtmp://%s/%s", g.rtmp.Addr(), path))
	return func() { _ = p.Kill() }
}

// waitSegments waits until n segments have been finished.
func (g *rig) waitSegments(t *testing.T, n int, within time.Duration) []string {
	t.Helper()
	deadline := time.After(within)
	for {
		g.mu.Lock()
		got := append([]string(nil), g.done...)
		g.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-g.cond:
		case <-deadline:
			t.Fatalf("%d segments finished, want %d", len(got), n)
		}
	}
}

// get fetches an API URL and returns status, headers and body.
func (g *rig) get(t *testing.T, method, path string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, g.api.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// mediaCheck is what ffprobe and ffmpeg say of a recorded file.
type mediaCheck struct {
	video, audio       string // codec names
	frames             int    // video frames decoded
	duration           float64
	nonIncreasing      int // packets whose DTS did not rise, all streams
	videoPkts, audioPk int
}

// checkMedia decodes file fully (-xerror) and reads its packets' DTS.
func checkMedia(t *testing.T, file string) mediaCheck {
	t.Helper()
	ctx := testpeer.Context(t, 60*time.Second)
	var c mediaCheck
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-xerror", "-i", file, "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg -xerror %s: %v\n%s", file, err, out)
	}
	out, err = exec.CommandContext(ctx, "ffprobe", "-v", "error", "-count_frames", "-show_entries",
		"stream=codec_type,codec_name,nb_read_frames:format=duration", "-of", "default=nw=1", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	var kind string
	for _, l := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "codec_name":
			kind = v
		case "codec_type":
			if v == "video" {
				c.video = kind
			} else if v == "audio" {
				c.audio = kind
			}
			kind = v
		case "nb_read_frames":
			if n, err := strconv.Atoi(v); err == nil && kind == "video" {
				c.frames = n
			}
		case "duration":
			c.duration, _ = strconv.ParseFloat(v, 64)
		}
	}
	out, err = exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries", "packet=stream_index,codec_type,dts",
		"-of", "csv=p=0", file).Output()
	if err != nil {
		t.Fatalf("ffprobe packets %s: %v", file, err)
	}
	last := map[string]int64{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, ",")
		if len(f) < 3 {
			continue
		}
		d, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			c.nonIncreasing++ // N/A
			continue
		}
		if p, ok := last[f[1]]; ok && d <= p {
			c.nonIncreasing++
		}
		last[f[1]] = d
		if f[0] == "video" {
			c.videoPkts++
		} else {
			c.audioPk++
		}
	}
	return c
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "*.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return f.Name()
}
