package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/webrtc/whepclient"
)

// window is Skyrelay's CPU rate and memory over one sampling window.
type window struct {
	cpuPerSec float64 // CPU-seconds per wall-second
	rss       int64   // bytes at the end of the window
	hwm       int64
}

// sampleWindow sleeps for d and returns Skyrelay's CPU rate over it.
func sampleWindow(b *testing.B, g *gwproc.Process, d time.Duration) window {
	s0 := g.Sample(b)
	time.Sleep(d)
	s1 := g.Sample(b)
	return window{cpuPerSec: (s1.CPU - s0.CPU).Seconds() / s1.At.Sub(s0.At).Seconds(), rss: s1.RSS, hwm: s1.HWM}
}

// loadAvg is /proc/loadavg's 1-minute figure: other work on this 2-core
// machine disturbs CPU figures, so every benchmark reports it.
func loadAvg(b *testing.B) float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		b.Fatal(err)
	}
	var l float64
	_, _ = fmt.Sscan(strings.Fields(string(raw))[0], &l)
	return l
}

// whepURL is the WHEP endpoint of path on Skyrelay.
func whepURL(g *gwproc.Process, path string) string { return g.URL("/" + path + "/whep") }

// startViewers connects n WHEP viewers to each path (n*len(paths) in all)
// and fails the benchmark when more than a tenth of them could not connect.
func startViewers(b *testing.B, g *gwproc.Process, paths []string, n int) []*whepclient.Client {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var all []*whepclient.Client
	failed := 0
	for _, p := range paths {
		cs, err := whepclient.StartViewers(ctx, whepURL(g, p), n, func(c *whepclient.Client) { c.NoNACK = true })
		if err != nil {
			b.Logf("%s: %v", p, err)
		}
		failed += n - len(cs)
		all = append(all, cs...)
	}
	b.Cleanup(func() { whepclient.CloseAll(all) })
	if total := n * len(paths); failed > total/10 {
		b.Fatalf("%d of %d viewers did not connect", failed, total)
	}
	return all
}

// reportViewers reports what the viewers received over d.
func reportViewers(b *testing.B, prefix string, cs []*whepclient.Client, d time.Duration) whepclient.Summary {
	ctx, cancel := context.WithTimeout(context.Background(), d+10*time.Second)
	defer cancel()
	s, err := whepclient.Measure(ctx, cs, d)
	if err != nil {
		b.Fatal(err)
	}
	gwproc.Report(b, prefix+": mean fps per viewer", s.MeanFPS, "fps")
	gwproc.Report(b, prefix+": slowest viewer fps", float64(s.MinFrames)/s.Window.Seconds(), "min-fps")
	gwproc.Report(b, prefix+": RTP sequence gaps, all viewers", float64(s.Lost), "lost")
	return s
}

// counters are Skyrelay's byte and drop counters at one instant.
type counters struct{ in, out, dropped float64 }

func readCounters(b *testing.B, g *gwproc.Process) counters {
	var c counters
	for name, v := range map[string]*float64{"skyrelay_bytes_received_total": &c.in,
		"skyrelay_bytes_sent_total": &c.out, "skyrelay_frames_dropped_total": &c.dropped} {
		x, ok := g.Metric(b, name)
		if !ok {
			b.Fatalf("no %s in /metrics", name)
		}
		*v = x
	}
	return c
}
