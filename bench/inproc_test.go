package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/ingest/rtmp"
	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/webrtc"
)

// The in-process benchmarks wire the stream core, RTMP ingest and the WHEP
// server the way cmd/skyrelay does, in the test binary itself, so that
// `go test -cpuprofile` and `-memprofile` see the gateway's own code. The
// figures of record come from the binary (the other files); these exist to
// explain them, and run only when asked:
//
//	SKYRELAY_INPROC=1 go test -run '^$' -bench InProc -benchtime 1x \
//	    -cpuprofile /tmp/cpu.prof ./bench/
const inprocEnv = "SKYRELAY_INPROC"

// inproc is a gateway inside the test process.
type inproc struct {
	hub  *gateway.Hub
	rtmp *rtmp.Server
	rtc  *webrtc.Server
	http *gateway.HTTPServer
}

func newInProc(b *testing.B) *inproc {
	b.Helper()
	if os.Getenv(inprocEnv) == "" {
		b.Skipf("set %s=1 to run the in-process profiling benchmarks", inprocEnv)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	g := &inproc{hub: gateway.NewHub(10*time.Second, log)}
	b.Cleanup(g.hub.Close)
	auth := &gateway.Auth{}
	g.rtmp = &rtmp.Server{Address: "127.0.0.1:0", Hub: g.hub, Auth: auth, Log: log}
	if err := g.rtmp.Initialize(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(g.rtmp.Close)
	g.rtc = &webrtc.Server{Listen: "127.0.0.1:0", Hub: g.hub, Auth: auth, Log: log, HandshakeTimeout: 20 * time.Second}
	if err := g.rtc.Initialize(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(g.rtc.Close)
	g.http = &gateway.HTTPServer{Address: "127.0.0.1:0", Log: log, WHEP: g.rtc.WHEP()}
	if err := g.http.Initialize(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(g.http.Close)
	return g
}

func (g *inproc) whep(path string) string {
	return "http://" + g.http.Addr().String() + "/" + path + "/whep"
}

func (g *inproc) push(b *testing.B, clip, path string) {
	cmd := exec.Command("ffmpeg", "-v", "error", "-re", "-stream_loop", "-1", "-i", clip, "-c", "copy", "-f", "flv",
		fmt.Sprintf("rtmp://%s/%s", g.rtmp.Addr(), path))
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

func (g *inproc) waitReady(b *testing.B, path string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := g.hub.WaitReady(ctx, path); err != nil {
		b.Fatalf("%s not ready: %v", path, err)
	}
}

// BenchmarkInProcIngest30 is BenchmarkIngest30 inside the test process:
// 30 RTMP publishers, no reader, for a CPU profile of ingest.
func BenchmarkInProcIngest30(b *testing.B) {
	g := newInProc(b)
	clip := gwproc.BenchClip(b, 30)
	for i := range 30 {
		g.push(b, clip, fmt.Sprintf("bench/s%d", i))
	}
	for i := range 30 {
		g.waitReady(b, fmt.Sprintf("bench/s%d", i))
	}
	b.ResetTimer()
	time.Sleep(measureWindow)
}
