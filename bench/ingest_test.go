package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
)

// measureWindow is how long CPU and memory are sampled after warm-up.
const (
	warmUp        = 5 * time.Second
	measureWindow = 20 * time.Second
)

// BenchmarkIngest30 is 30 RTMP publishers of the 720p30 3 Mbit/s clip and
// no reader: the cost of ingest alone (codec processing, RTP, GOP cache).
func BenchmarkIngest30(b *testing.B) {
	const n = 30
	g := gwproc.Start(b, "")
	clip := gwproc.BenchClip(b, 30)
	base := g.Sample(b)
	for i := 0; i < n; i++ {
		g.Push(b, clip, fmt.Sprintf("bench/s%d", i))
	}
	for i := 0; i < n; i++ {
		g.WaitReady(b, fmt.Sprintf("bench/s%d", i), 20*time.Second)
	}
	time.Sleep(warmUp) // let every publisher reach steady state before sampling
	s0 := g.Sample(b)
	time.Sleep(measureWindow)
	s1 := g.Sample(b)
	wall := s1.At.Sub(s0.At).Seconds()
	gwproc.Report(b, "ingest: CPU-s per stream-second (30 RTMP, no reader)", (s1.CPU-s0.CPU).Seconds()/(wall*n), "cpu-s/stream-s")
	gwproc.Report(b, "ingest: MB per stream (RSS growth / 30)", float64(s1.RSS-base.RSS)/n/(1<<20), "MB/stream")
	gwproc.Report(b, "ingest: gateway RSS total", float64(s1.RSS)/(1<<20), "MB")
	gwproc.Report(b, "ingest: load average (1 min) after the window", loadAvg(b), "load")
}
