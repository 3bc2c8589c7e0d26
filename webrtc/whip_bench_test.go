package webrtc_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/webrtc/whepclient"
)

// BenchmarkWHIPToWHEP publishes a 320x240 30 fps clip with Opus over WHIP
// (pion) for 5 s to one WHEP viewer (pion, no decoding) and reports the
// latency Skyrelay adds between a unit's arrival from the WHIP
// publisher and its hand-over to the WHEP peer, from the hub's
// added-latency summary (target: p99 at most 5 ms).
//
//	go test -run '^$' -bench WHIPToWHEP -benchtime 1x ./webrtc/
func BenchmarkWHIPToWHEP(b *testing.B) {
	for range b.N {
		e := whipEnv(b)
		reg := prometheus.NewRegistry()
		reg.MustRegister(e.hub.Collector())
		pub := startWHIP(b, e.whip("live/bench"), makeClip(b, clipSmall), true)
		waitReady(b, e, "live/bench")
		v := &whepclient.Client{URL: e.whep("live/bench")}
		startClient(b, v)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if err := v.WaitVideoFrames(ctx, 150); err != nil {
			cancel()
			b.Fatal(err)
		}
		cancel()
		p50, p99, n := addedLatency(b, reg, "webrtc")
		pub.Stop()
		if n < 100 {
			b.Fatalf("only %d units measured", n)
		}
		gwproc.Report(b, "whip_to_whep/added_latency_p50", p50*1000, "ms")
		gwproc.Report(b, "whip_to_whep/added_latency_p99", p99*1000, "ms")
	}
}

// addedLatency reads the hub's skyrelay_added_latency_seconds summary for
// one reader protocol: its p50, p99 (seconds) and sample count.
func addedLatency(b *testing.B, reg *prometheus.Registry, protocol string) (p50, p99 float64, n uint64) {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "skyrelay_added_latency_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := false
			for _, l := range m.GetLabel() {
				if l.GetName() == "protocol" && l.GetValue() == protocol {
					match = true
				}
			}
			if !match {
				continue
			}
			s := m.GetSummary()
			for _, q := range s.GetQuantile() {
				switch q.GetQuantile() {
				case 0.5:
					p50 = q.GetValue()
				case 0.99:
					p99 = q.GetValue()
				}
			}
			return p50, p99, s.GetSampleCount()
		}
	}
	b.Fatalf("no added-latency summary for %s", protocol)
	return 0, 0, 0
}
