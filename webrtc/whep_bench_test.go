package webrtc_test

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/webrtc"
	"github.com/skyrelay/skyrelay/webrtc/whepclient"
)

// BenchmarkWHEPViewers puts 1, 10 and 100 pion viewers (whepclient, no
// decoding) on one 320x240 30 fps stream for 3 s and reports what they
// received and what the process (Skyrelay and viewers together) spent.
// Against a separate Skyrelay process, use whepclient.StartViewers and
// Measure the same way.
//
//	go test -run '^$' -bench WHEPViewers -benchtime 1x ./webrtc/
func BenchmarkWHEPViewers(b *testing.B) {
	e := newEnv(b, func(s *webrtc.Server) { s.HandshakeTimeout = 20 * time.Second })
	startPublisher(b, e.hub, "live/bench", makeClip(b, clipSmall))
	waitReady(b, e, "live/bench")
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			for range b.N {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				cs, err := whepclient.StartViewers(ctx, e.whep("live/bench"), n, nil)
				if failed := n - len(cs); failed > n/10 {
					whepclient.CloseAll(cs)
					cancel()
					b.Fatalf("%d of %d viewers did not connect: %v", failed, n, err)
				} else if err != nil {
					b.Logf("%d of %d viewers did not connect: %v", failed, n, err)
				}
				cpu0 := cpuTime()
				s, err := whepclient.Measure(ctx, cs, 3*time.Second)
				cpu := cpuTime() - cpu0
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				whepclient.CloseAll(cs)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				if s.MinFrames < int(20*s.Window.Seconds()) {
					b.Logf("the slowest viewer got %d frames in %v (a loaded machine?)", s.MinFrames, s.Window)
				}
				b.ReportMetric(float64(n-len(cs)), "failed")
				b.ReportMetric(float64(s.MinFrames)/s.Window.Seconds(), "min-fps")
				b.ReportMetric(s.MeanFPS, "fps/viewer")
				b.ReportMetric(float64(s.Lost), "lost")
				b.ReportMetric(cpu.Seconds()/s.Window.Seconds(), "cpu-s/s")
				b.ReportMetric(float64(ms.HeapInuse)/float64(n)/(1<<20), "heap-MB/viewer")
				b.ReportMetric(float64(s.MaxFirstFrame.Milliseconds()), "max-first-packet-ms")
			}
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
