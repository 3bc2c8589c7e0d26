package hls

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/hls/hlstest"
	"github.com/skyrelay/skyrelay/gateway/web"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// env is a hub, the HLS server and the HTTP server in front of it, with the
// web pages for the static files (hls.js) and no WHEP.
type env struct {
	hub    *gateway.Hub
	srv    *Server
	base   string
	closed chan [2]string // path, reason of every muxer that closed
}

func testLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newEnv(t *testing.T, grace, closeAfter time.Duration) *env {
	t.Helper()
	log := testLog()
	hub := gateway.NewHub(grace, log)
	t.Cleanup(hub.Close)
	e := &env{hub: hub, closed: make(chan [2]string, 16)}
	e.srv = &Server{Hub: hub, CloseAfter: closeAfter, Log: log}
	e.srv.onClose = func(path, reason string) { e.closed <- [2]string{path, reason} }
	if err := e.srv.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.srv.Close)
	hs := &gateway.HTTPServer{Address: "127.0.0.1:0", HLS: e.srv, Page: &web.Pages{Hub: hub, Log: log}, Log: log}
	if err := hs.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hs.Close)
	e.base = "http://" + hs.Addr().String()
	return e
}

// awaitClose waits for the muxer of path to close and returns why.
func (e *env) awaitClose(t *testing.T, path string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case c := <-e.closed:
			if c[0] == path {
				return c[1]
			}
		case <-deadline:
			t.Fatalf("the muxer of %s did not close within %v", path, within)
		}
	}
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// hlsReaders counts the stream's readers that are HLS muxers.
func hlsReaders(s *gateway.Stream) int {
	n := 0
	for _, r := range s.Readers() {
		if r.Protocol == "hls" {
			n++
		}
	}
	return n
}

func TestFFprobeReadsLLHLS(t *testing.T) {
	testpeer.Require(t, "ffprobe")
	e := newEnv(t, 0, time.Minute)
	hlstest.Publish(t, e.hub, "live/a", hlstest.H264Clip(t, 320, 240, 30, 4))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", "v", "-count_packets",
		"-show_entries", "stream=codec_name,width,height,nb_read_packets", "-of", "json",
		"-read_intervals", "%+3", e.base+"/live/a/index.m3u8").Output()
	if err != nil {
		t.Fatalf("ffprobe: %v: %s", err, out)
	}
	var probe struct {
		Streams []struct {
			CodecName     string `json:"codec_name"`
			Width, Height int
			NbReadPackets string `json:"nb_read_packets"`
		}
	}
	if err := json.Unmarshal(out, &probe); err != nil || len(probe.Streams) != 1 {
		t.Fatalf("ffprobe output %s: %v", out, err)
	}
	s := probe.Streams[0]
	t.Logf("ffprobe read %+v", s)
	if s.CodecName != "h264" || s.Width != 320 || s.Height != 240 || s.NbReadPackets == "" || s.NbReadPackets == "0" {
		t.Fatalf("ffprobe saw %+v, want h264 320x240 with packets", s)
	}

	// The playlist is low-latency: parts and blocking reload.
	_, pl := get(t, e.base+"/live/a/video1_stream.m3u8")
	for _, want := range []string{"#EXT-X-PART-INF", "CAN-BLOCK-RELOAD=YES", "#EXT-X-PART:", "#EXT-X-PRELOAD-HINT"} {
		if !strings.Contains(string(pl), want) {
			t.Errorf("media playlist lacks %s:\n%s", want, pl)
		}
	}
	if got := e.hub.Stream("live/a").BytesSent(); got == 0 {
		t.Error("bytes served over HTTP were not counted in the stream's bytes_sent")
	}
}

func TestUnknownPathAnswers404JSON(t *testing.T) {
	e := newEnv(t, 0, time.Minute)
	for _, url := range []string{e.base + "/nope/index.m3u8", e.base + "/nope/x_video1_part3.mp4"} {
		res, body := get(t, url)
		var msg struct {
			Error struct{ Code, Message string }
		}
		if res.StatusCode != http.StatusNotFound || json.Unmarshal(body, &msg) != nil || msg.Error.Code != "not_found" {
			t.Fatalf("GET %s = %d %s, want 404 with a JSON not_found error", url, res.StatusCode, body)
		}
	}
	// A file the muxer of a live stream does not have is a 404 as well.
	hlstest.Publish(t, e.hub, "live/a", hlstest.H264Clip(t, 320, 240, 30, 4))
	if res, body := get(t, e.base+"/live/a/nosuch_seg9.mp4"); res.StatusCode != http.StatusNotFound ||
		!strings.Contains(string(body), `"not_found"`) {
		t.Fatalf("unknown file = %d %s, want 404 JSON", res.StatusCode, body)
	}
	if res, _ := get(t, e.base+"/live/a/index.m3u8"); res.StatusCode != http.StatusOK {
		t.Fatalf("index.m3u8 = %d", res.StatusCode)
	}
}

func TestMuxerClosesWhenIdleAndComesBack(t *testing.T) {
	e := newEnv(t, 0, 300*time.Millisecond)
	hlstest.Publish(t, e.hub, "live/a", hlstest.H264Clip(t, 320, 240, 30, 4))
	if res, _ := get(t, e.base+"/live/a/index.m3u8"); res.StatusCode != http.StatusOK {
		t.Fatalf("index.m3u8 = %d", res.StatusCode)
	}
	st := e.hub.Stream("live/a")
	if n := hlsReaders(st); n != 1 {
		t.Fatalf("%d hls readers on the stream, want 1", n)
	}
	if reason := e.awaitClose(t, "live/a", 10*time.Second); reason != "idle" {
		t.Fatalf("muxer closed for %q, want idle", reason)
	}
	if n := hlsReaders(st); n != 0 {
		t.Fatalf("%d hls readers after the idle close, want 0", n)
	}
	if res, body := get(t, e.base+"/live/a/index.m3u8"); res.StatusCode != http.StatusOK || !strings.Contains(string(body), "#EXTM3U") {
		t.Fatalf("index.m3u8 after the idle close = %d %s", res.StatusCode, body)
	}
}

func TestMuxerClosesWhenStreamEnds(t *testing.T) {
	e := newEnv(t, 0, time.Minute)
	p := hlstest.Publish(t, e.hub, "live/a", hlstest.H264Clip(t, 320, 240, 30, 4))
	if res, _ := get(t, e.base+"/live/a/index.m3u8"); res.StatusCode != http.StatusOK {
		t.Fatalf("index.m3u8 = %d", res.StatusCode)
	}
	p.Stop()
	if reason := e.awaitClose(t, "live/a", 10*time.Second); reason != "stream ended" {
		t.Fatalf("muxer closed for %q, want stream ended", reason)
	}
	if res, _ := get(t, e.base+"/live/a/index.m3u8"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("index.m3u8 of an ended stream = %d, want 404", res.StatusCode)
	}
}

// A publisher that comes back with another resolution keeps its stream (same
// codec), but the muxer's init segment is stale: it must be remade.
func TestMuxerRemadeWhenResolutionChanges(t *testing.T) {
	e := newEnv(t, 5*time.Second, time.Minute)
	p := hlstest.Publish(t, e.hub, "live/a", hlstest.H264Clip(t, 320, 240, 30, 2))
	if _, body := get(t, e.base+"/live/a/index.m3u8"); !strings.Contains(string(body), "RESOLUTION=320x240") {
		t.Fatalf("multivariant playlist:\n%s", body)
	}
	p.Stop()
	p.Clip = hlstest.H264Clip(t, 640, 360, 30, 2)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if reason := e.awaitClose(t, "live/a", 10*time.Second); reason != errCodecChanged.Error() {
		t.Fatalf("muxer closed for %q, want %q", reason, errCodecChanged)
	}
	if _, body := get(t, e.base+"/live/a/index.m3u8"); !strings.Contains(string(body), "RESOLUTION=640x360") {
		t.Fatalf("multivariant playlist after the change:\n%s", body)
	}
}

// Many clients arriving together share one muxer and one stream reader.
func TestConcurrentClientsShareOneMuxer(t *testing.T) {
	e := newEnv(t, 0, time.Minute)
	hlstest.Publish(t, e.hub, "live/a", hlstest.H264Clip(t, 320, 240, 30, 4))
	const clients = 20
	errs := make(chan string, clients)
	for range clients {
		go func() {
			res, err := http.Get(e.base + "/live/a/index.m3u8")
			if err != nil {
				errs <- err.Error()
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || !strings.Contains(string(b), "video1_stream.m3u8") {
				errs <- res.Status + " " + string(b)
				return
			}
			errs <- ""
		}()
	}
	for range clients {
		if msg := <-errs; msg != "" {
			t.Fatal(msg)
		}
	}
	if n := hlsReaders(e.hub.Stream("live/a")); n != 1 {
		t.Fatalf("%d hls readers for %d clients, want 1", n, clients)
	}
}

// TestOnDemandRefusalAnswers502: when the on-demand start of a path fails
// (a device refused), LL-HLS answers as WHEP does: 502 start_failed with
// the reason, not a 404 that hides it.
func TestOnDemandRefusalAnswers502(t *testing.T) {
	hub := gateway.NewHub(time.Second, slog.New(slog.DiscardHandler))
	hub.OnDemand = func(context.Context, string) error {
		return errors.New("device error 513003 (dock): the camera refused")
	}
	s := &Server{Hub: hub, Log: slog.New(slog.DiscardHandler)}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := httptest.NewRecorder()
	s.ServePath(rec, httptest.NewRequest("GET", "/cam/a/index.m3u8", nil), "cam/a", "index.m3u8")
	if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), "start_failed") || !strings.Contains(rec.Body.String(), "513003") {
		t.Fatalf("= %d %s, want 502 start_failed naming the refusal", rec.Code, rec.Body.String())
	}
}
