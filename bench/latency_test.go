package bench

import (
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
)

// summaryMaxAge is the age after which an observation leaves the
// gateway's skyrelay_added_latency_seconds quantiles (gateway/metrics.go).
// Viewers that join mid-GOP catch up through the replayed GOP, and the
// live frames queued behind that replay count as added latency; waiting
// this long after the catch-up keeps them out of the figures, which then
// describe the steady state.
const summaryMaxAge = time.Minute

// BenchmarkAddedLatency: ffmpeg encodes testsrc2 live (720p30, x264
// -tune zerolatency, 1 s GOP, AAC) and pushes RTMP; the ultrafast preset
// keeps the encoder, which runs on the drone in the field, from taking
// Skyrelay's two cores here. Ten WHEP viewers read
// it. Skyrelay's own summary of ingest arrival -> handed to the peer
// connection (skyrelay_added_latency_seconds{protocol="webrtc"}) gives
// p50/p90/p99 over the last minute, and _sum/_count the mean.
func BenchmarkAddedLatency(b *testing.B) {
	const viewers = 10
	g := gwproc.Start(b, "")
	enc := exec.Command("ffmpeg", "-v", "error",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
		"-re", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "main", "-pix_fmt", "yuv420p",
		"-b:v", "3M", "-maxrate", "3M", "-bufsize", "1M", "-g", "30", "-bf", "0",
		"-c:a", "aac", "-b:a", "128k", "-ac", "2", "-f", "flv", g.RTMPURL("bench/live"))
	if err := enc.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = enc.Process.Kill(); _ = enc.Wait() })
	g.WaitReady(b, "bench/live", 20*time.Second)
	cs := startViewers(b, g, []string{"bench/live"}, viewers)
	time.Sleep(2 * time.Second) // catch-up through the replayed GOP ends within ~0.4 s
	metric := func(name string) float64 {
		v, ok := g.Metric(b, name)
		if !ok {
			b.Fatalf("no %s in /metrics", name)
		}
		return v
	}
	sum0 := metric(`skyrelay_added_latency_seconds_sum{protocol="webrtc"}`)
	cnt0 := metric(`skyrelay_added_latency_seconds_count{protocol="webrtc"}`)
	load0 := loadAvg(b)
	if s := reportViewers(b, "live encode", cs, summaryMaxAge+time.Second); s.MeanFPS < 25 {
		b.Errorf("viewers got %.1f fps on average, want about 30", s.MeanFPS)
	}
	sum1 := metric(`skyrelay_added_latency_seconds_sum{protocol="webrtc"}`)
	cnt1 := metric(`skyrelay_added_latency_seconds_count{protocol="webrtc"}`)
	for _, q := range []struct{ label, pct string }{{"0.5", "50"}, {"0.9", "90"}, {"0.99", "99"}} {
		v := metric(fmt.Sprintf(`skyrelay_added_latency_seconds{protocol="webrtc",quantile=%q}`, q.label))
		gwproc.Report(b, "added latency, RTMP in -> WHEP out, p"+q.pct, v*1000, "ms-p"+q.pct)
	}
	gwproc.Report(b, "added latency, RTMP in -> WHEP out, mean", (sum1-sum0)/(cnt1-cnt0)*1000, "ms-mean")
	gwproc.Report(b, "added latency: units observed in the window", cnt1-cnt0, "units")
	dropped, _ := g.Metric(b, "skyrelay_frames_dropped_total")
	gwproc.Report(b, "added latency: frames dropped for slow readers", dropped, "dropped")
	gwproc.Report(b, "added latency: load average (1 min) before", load0, "load-before")
	gwproc.Report(b, "added latency: load average (1 min) after", loadAvg(b), "load-after")
}
