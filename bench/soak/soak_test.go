package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// plan is the shape of a run; make soak's variables set it.
type plan struct {
	duration       time.Duration // SOAK_DURATION: how long peers churn
	warmUp         time.Duration // everyone connected before the start figures
	streams        int           // SOAK_STREAMS
	ffmpegRTMP     int           // of which published by ffmpeg over RTMP
	ffmpegRTSP     int           // and by ffmpeg over RTSP
	whep, rtsp     int           // SOAK_WHEP, SOAK_RTSP: churning viewers
	hls            int           // SOAK_HLS
	malformedEvery time.Duration // per port
}

func planFromEnv(t *testing.T) plan {
	pl := plan{duration: 30 * time.Minute, streams: 50, ffmpegRTMP: 2, ffmpegRTSP: 2,
		whep: 20, rtsp: 15, hls: 5, malformedEvery: 2 * time.Second}
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("SOAK_DURATION=%q: want a Go duration such as 30m", v)
		}
		pl.duration = d
	}
	for name, p := range map[string]*int{"SOAK_STREAMS": &pl.streams, "SOAK_WHEP": &pl.whep, "SOAK_RTSP": &pl.rtsp, "SOAK_HLS": &pl.hls} {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 500 {
				t.Fatalf("%s=%q: want a count from 0 to 500", name, v)
			}
			*p = n
		}
	}
	if pl.streams < pl.ffmpegRTMP+pl.ffmpegRTSP+1 {
		t.Fatalf("SOAK_STREAMS=%d: want at least %d", pl.streams, pl.ffmpegRTMP+pl.ffmpegRTSP+1)
	}
	pl.warmUp = min(max(pl.duration/10, 20*time.Second), 2*time.Minute)
	return pl
}

// TestSoak is make soak: see the package comment and docs/testing.md.
func TestSoak(t *testing.T) {
	if os.Getenv("SKYRELAY_SOAK") != "1" {
		t.Skip("the soak runs under make soak (SKYRELAY_SOAK=1)")
	}
	pl := planFromEnv(t)
	testpeer.Require(t, "ffmpeg")
	testpeer.Require(t, "ffprobe")
	if dl, ok := t.Deadline(); ok && time.Until(dl) < pl.duration+pl.warmUp+6*time.Minute {
		t.Fatalf("go test -timeout leaves %s; SOAK_DURATION=%s needs %s more (make soak's SOAK_TIMEOUT)",
			time.Until(dl).Round(time.Second), pl.duration, pl.warmUp+6*time.Minute)
	}
	g := gwproc.Start(t, "")
	idle := sample(t, g)
	t.Logf("SOAK plan: %d streams (%d ffmpeg rtmp, %d ffmpeg rtsp, the rest in-process rtmp) and one GB28181 push from a simulated dock, viewers %d whep, %d rtsp, %d ll-hls; churn %s after a %s warm-up",
		pl.streams, pl.ffmpegRTMP, pl.ffmpegRTSP, pl.whep, pl.rtsp, pl.hls, pl.duration, pl.warmUp)

	ctx, stop := context.WithCancel(context.Background())
	begin, settle := make(chan struct{}), make(chan struct{})
	ph := phase{begin: begin, settle: settle, stop: ctx}
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }() // before the gateway stops (t.Cleanup)
	run := func(p *peer, seed int) {
		wg.Add(1)
		go func() { defer wg.Done(); p.run(ph, uint64(seed)) }()
	}

	pubs, paths := publishers(t, g, pl)
	for i, p := range pubs {
		run(p, i)
	}
	if lost := waitReady(g, paths, time.Minute); len(lost) > 0 {
		t.Fatalf("streams not ready after their first publish: %v", lost)
	}
	gbPath, gbPort, gbTransport := gbStream(t, g, ctx)
	pubPaths := paths
	paths = append(append([]string(nil), paths...), gbPath)
	if lost := waitReady(g, paths, time.Minute); len(lost) > 0 {
		t.Fatalf("the GB28181 stream is not ready: %v", lost)
	}
	t.Logf("SOAK GB28181 stream %s on media port %d (%s)", gbPath, gbPort, gbTransport)
	vs := viewers(g, pl, paths)
	var vpeers []*peer
	for i, v := range vs {
		run(v.peer, 1000+i)
		vpeers = append(vpeers, v.peer)
	}
	if down := waitUp(vpeers, time.Minute); len(down) > 0 {
		t.Fatalf("viewers that could not connect at the start: %v", down)
	}
	time.Sleep(pl.warmUp) // a measurement window, not synchronisation: caches and pools fill
	start := sample(t, g)
	t.Logf("SOAK idle:  %s", idle)
	t.Logf("SOAK start: %s", start)

	// The churn, with malformed input on every port and an ffprobe now and then.
	close(begin)
	feedCtx, stopFeeding := context.WithCancel(ctx)
	var feeders sync.WaitGroup
	ts := targets(g, gbPort)
	for i, tg := range ts {
		feeders.Add(1)
		go func() { defer feeders.Done(); tg.feed(feedCtx, pl.malformedEvery, uint64(i)) }()
	}
	var probesOK, probesFailed atomic.Int64
	feeders.Add(1)
	go func() { defer feeders.Done(); probeLoop(feedCtx, g, paths, &probesOK, &probesFailed) }()
	every := min(max(pl.duration/10, 30*time.Second), 3*time.Minute)
	end := time.Now().Add(pl.duration)
	for time.Now().Before(end) {
		time.Sleep(min(every, time.Until(end)))
		if err := healthy(g); err != nil {
			stopFeeding()
			t.Fatalf("the gateway stopped answering during the churn: %v", err)
		}
		ready, _ := g.Metric(t, `skyrelay_streams{ready="true"}`)
		t.Logf("SOAK +%s: %s; %0.f streams ready; publishers %s; viewers %s; malformed sent: %s; ffprobe %d ok %d failed",
			pl.duration-time.Until(end).Round(time.Second), sample(t, g), ready, sum(pubs), sum(vpeers),
			targetsSummary(ts), probesOK.Load(), probesFailed.Load())
	}
	stopFeeding()
	feeders.Wait()
	close(settle)

	// The end state: every stream back, every viewer connected and
	// receiving, and the footprint back where it started.
	if err := healthy(g); err != nil {
		t.Fatalf("the gateway stopped answering: %v", err)
	}
	if lost := waitReady(g, paths, time.Minute); len(lost) > 0 {
		t.Errorf("streams lost (not ready a minute after their publishers reconnected): %v", lost)
	}
	if down := waitUp(vpeers, time.Minute); len(down) > 0 {
		t.Errorf("viewers that could not connect again after the churn: %v", down)
	}
	if n := sum(pubs).broken; n > 0 {
		t.Errorf("the gateway closed %d publishers after the churn, while nothing disturbed them", n)
	}
	if dead := deadPictures(vs, 20*time.Second); len(dead) > 0 {
		t.Errorf("viewers connected but receiving nothing (dead picture): %v", dead)
	}
	finalProbes(t, g, pubPaths, gbPath)
	last := sample(t, g)
	t.Logf("SOAK end:   %s", last)
	for _, b := range flat(start, last) {
		t.Error(b)
	}
	t.Logf("SOAK publishers: %s", sum(pubs))
	t.Logf("SOAK viewers:    %s", sum(vpeers))
	for _, p := range append(append([]*peer(nil), pubs[:min(len(pubs), 4)]...), vpeers...) {
		t.Logf("SOAK   %s", p)
	}
	t.Logf("SOAK malformed inputs sent: %s", targetsSummary(ts))
	t.Logf("SOAK ffprobe during the churn: %d read video, %d did not (its publisher may have been away)", probesOK.Load(), probesFailed.Load())
	t.Logf("SOAK RSS %+.1f MB, goroutines %+.0f, fds %+d from start to end (limits: x%.1f+%d MB, x%.1f+%d, x%.1f+%d)",
		float64(last.rss-start.rss)/(1<<20), last.goroutines-start.goroutines, last.fds-start.fds,
		rssFactor, rssSlack>>20, goroutineFactor, goroutineSlack, fdFactor, fdSlack)
}

// healthy asks /healthz, twice before giving up: the machine may be busy.
func healthy(g *gwproc.Process) error {
	cl := &http.Client{Timeout: 5 * time.Second}
	var err error
	for range 3 {
		var resp *http.Response
		if resp, err = cl.Get(g.URL("/healthz")); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/healthz: %s", resp.Status)
		}
		time.Sleep(time.Second)
	}
	return err
}

// waitReady polls the streams API until every path is playable and
// returns those that were not within d.
func waitReady(g *gwproc.Process, paths []string, d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		var missing []string
		for _, p := range paths {
			if ok, _ := g.Ready(p); !ok {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			return missing
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitUp waits until every peer is connected and returns those that were
// not within d.
func waitUp(ps []*peer, d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		var down []string
		for _, p := range ps {
			if !p.up.Load() {
				down = append(down, p.String())
			}
		}
		if len(down) == 0 || time.Now().After(deadline) {
			return down
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// deadPictures watches every viewer for up to d and returns those that
// are connected and received no media in all that time.
func deadPictures(vs []*viewer, d time.Duration) []string {
	before := make([]int64, len(vs))
	for i, v := range vs {
		before[i] = v.media.Load()
	}
	deadline := time.Now().Add(d)
	for {
		var dead []string
		for i, v := range vs {
			if v.media.Load() == before[i] && v.up.Load() {
				dead = append(dead, fmt.Sprintf("%s on %s", v.name, v.path.Load()))
			}
		}
		if len(dead) == 0 || time.Now().After(deadline) {
			return dead
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// probeLoop runs ffprobe, a third-party reader, on a random stream every
// 20 to 40 s, over RTSP and LL-HLS in turn.
func probeLoop(ctx context.Context, g *gwproc.Process, paths []string, ok, failed *atomic.Int64) {
	r := rand.New(rand.NewPCG(7, 7))
	for n := 0; ; n++ {
		t := time.NewTimer(span{20 * time.Second, 40 * time.Second}.pick(r))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		path := paths[r.IntN(len(paths))]
		if probe(ctx, g, path, n%2 == 0) == nil {
			ok.Add(1)
		} else if ctx.Err() == nil {
			failed.Add(1)
		}
	}
}

func probe(ctx context.Context, g *gwproc.Process, path string, rtsp bool) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var res testpeer.ProbeResult
	var err error
	if rtsp {
		res, err = testpeer.ProbeURL(ctx, g.RTSPURL(path), "-rtsp_transport", "tcp")
	} else {
		res, err = testpeer.ProbeURL(ctx, g.URL("/"+path+"/index.m3u8"))
	}
	if err != nil {
		return err
	}
	if v, ok := res.Video(); !ok || v.Packets == 0 {
		return fmt.Errorf("ffprobe read no video from %s: %s", path, strings.TrimSpace(string(res.JSON)))
	}
	return nil
}

// finalProbes has ffprobe read three streams at the end: one published by
// ffmpeg over RTSP, one in-process over LL-HLS, the GB28181 one over RTSP.
func finalProbes(t *testing.T, g *gwproc.Process, pubPaths []string, gbPath string) {
	for _, c := range []struct {
		path string
		rtsp bool
	}{{pubPaths[0], true}, {pubPaths[len(pubPaths)-1], false}, {gbPath, true}} {
		if err := probe(context.Background(), g, c.path, c.rtsp); err != nil {
			t.Errorf("ffprobe at the end: %v", err)
		}
	}
}
