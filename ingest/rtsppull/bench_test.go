package rtsppull_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/internal/gwproc"
)

// BenchmarkPullReconnect stops GStreamer's RTSP server under a running
// pull, starts it again on the same port, and measures how long after the
// server is back the path has its publisher again (target: at most 2 s).
// Five restarts per run.
//
//	go test -run '^$' -bench PullReconnect -benchtime 1x ./ingest/rtsppull/
func BenchmarkPullReconnect(b *testing.B) {
	for range b.N {
		e := newEnv(b, "tcp")
		port := gwproc.FreePort(b)
		gst := startGst(b, port, "dji", "pw")
		stop, err := e.puller.Pull("rc/cam", fmt.Sprintf("rtsp://dji:pw@127.0.0.1:%d/live/1", port))
		if err != nil {
			b.Fatal(err)
		}
		c := attachCounter(b, e, "rc/cam")
		c.waitFrames(b, 10, 5*time.Second)
		var took []time.Duration
		for range 5 {
			_ = gst.Kill()
			e.waitEvent(b, gateway.EventLost, "rc/cam", 15*time.Second)
			// The server stays away long enough for the back-off to reach
			// its ceiling: the worst case for a returning controller.
			waitRetries(b, e, 4)
			gst = startGst(b, port, "dji", "pw")
			back := time.Now()
			e.waitEvent(b, gateway.EventBack, "rc/cam", 10*time.Second)
			took = append(took, time.Since(back))
			e.logs.Reset()
		}
		stop()
		slices.Sort(took)
		gwproc.Report(b, "rtsp_pull/reconnect_after_server_back_p50", float64(took[len(took)/2].Milliseconds()), "ms")
		gwproc.Report(b, "rtsp_pull/reconnect_after_server_back_max", float64(took[len(took)-1].Milliseconds()), "ms")
	}
}
