package bench

import (
	"context"
	"fmt"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/ingest/rtmp"
	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/webrtc"
)

// The in-process benchmarks wire the stream core, RTMP ingest and the WHEP
// server the way cmd/skyrelay does, in the test binary itself, so that
// `go test -cpuprofile` and `-memprofile` see Skyrelay's own code. The
// figures of record come from the binary (the other files); these exist to
// explain them, and run only when asked:
//
//	SKYRELAY_INPROC=1 go test -run '^$' -bench InProc -benchtime 1x \
//	    -cpuprofile /tmp/cpu.prof ./bench/
const inprocEnv = "SKYRELAY_INPROC"

// inproc is Skyrelay inside the test process.
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
	auth := &authz.Auth{}
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

// viewersProcess starts n WHEP viewers on each URL in a child process
// (see viewersEnv) and returns how many connected; they leave when the
// benchmark ends.
func viewersProcess(b *testing.B, n int, urls []string) int {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %s", viewersEnv, n, strings.Join(urls, " ")))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	var got int
	if _, err := fmt.Fscanf(stdout, "ready %d\n", &got); err != nil {
		b.Fatalf("viewers process: %v", err)
	}
	return got
}

// heapProfile writes Skyrelay's in-use heap to $SKYRELAY_HEAPPROFILE
// while its viewers are still connected (go test's -memprofile is written
// after the benchmark's cleanup, when they are gone).
func heapProfile(b *testing.B) {
	p := os.Getenv("SKYRELAY_HEAPPROFILE")
	if p == "" {
		return
	}
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

// inprocReaders runs publishers × viewers in process and reports the
// process's own CPU rate and heap per viewer, for comparison with the
// binary's figures.
func inprocReaders(b *testing.B, publishers, viewers int) {
	g := newInProc(b)
	clip := gwproc.BenchClip(b, 30)
	var urls []string
	for i := range publishers {
		p := fmt.Sprintf("bench/s%d", i)
		g.push(b, clip, p)
		urls = append(urls, g.whep(p))
	}
	for i := range publishers {
		g.waitReady(b, fmt.Sprintf("bench/s%d", i))
	}
	time.Sleep(warmUp)
	cpu0, t0 := selfCPU(), time.Now()
	time.Sleep(measureWindow / 2)
	base := (selfCPU() - cpu0).Seconds() / time.Since(t0).Seconds()
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	n := viewersProcess(b, viewers, urls)
	time.Sleep(readerWarmUp)
	b.ResetTimer()
	cpu1, t1 := selfCPU(), time.Now()
	time.Sleep(measureWindow)
	with := (selfCPU() - cpu1).Seconds() / time.Since(t1).Seconds()
	heapProfile(b)
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	b.ReportMetric(base, "cpu-s/s-ingest")
	b.ReportMetric((with-base)/float64(n), "cpu-s/reader-s")
	b.ReportMetric(float64(m1.HeapInuse-m0.HeapInuse)/float64(n)/(1<<20), "heap-MB/reader")
	b.ReportMetric(float64(m1.Sys-m0.Sys)/float64(n)/(1<<20), "sys-MB/reader")
	b.ReportMetric(float64(n), "readers")
}

// BenchmarkInProcWHEP30x1 is BenchmarkWHEP30x1 in process.
func BenchmarkInProcWHEP30x1(b *testing.B) { inprocReaders(b, 30, 1) }

// BenchmarkInProcWHEP1x100 is BenchmarkWHEP1x100 in process.
func BenchmarkInProcWHEP1x100(b *testing.B) { inprocReaders(b, 1, 100) }

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
