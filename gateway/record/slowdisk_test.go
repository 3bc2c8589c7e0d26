package record

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestRecordSlowDisk: a disk that stalls for 1.5 s makes the recording
// lose frames up to the next keyframe, never the publisher: a live reader
// of the same stream gets every frame, the publisher's writes never wait,
// and the loss becomes the end of a run, not a long sample.
func TestRecordSlowDisk(t *testing.T) {
	testpeer.Require(t, "ffmpeg", "ffprobe")
	var stalled atomic.Bool
	g := newRig(t, func(r *Recorder) {
		r.PartDuration, r.QueueSize = 200*time.Millisecond, 16
		r.beforeWrite = func() {
			if !stalled.Load() && time.Since(startOf(r)) > time.Second {
				stalled.Store(true)
				time.Sleep(1500 * time.Millisecond) // the disk stalls once
			}
		}
	})
	var live atomic.Int64
	var slowest atomic.Int64
	g.hub.OnEvent = func(e gateway.Event) {
		g.rec.StreamEvent(e.Path, string(e.Kind))
		if e.Kind == gateway.EventReady {
			r := &gateway.Reader{Protocol: "live", SkipRTP: true, Handle: func(gateway.Frame) error { live.Add(1); return nil }}
			_ = g.hub.Stream(e.Path).AddReader(r)
		}
	}
	fakeDJIPaced(t, g, "slow/cam", 200, &slowest)
	files := g.waitSegments(t, 2, 30*time.Second)
	if !stalled.Load() {
		t.Fatal("the disk never stalled")
	}
	if got := live.Load(); got < 200 {
		t.Fatalf("the live reader got %d of 200 frames while the disk stalled", got)
	}
	if d := time.Duration(slowest.Load()); d > 200*time.Millisecond {
		t.Fatalf("a publisher write took %v: the recording blocked ingest", d)
	}
	_, _, run1, _ := parseSegmentFile(g.rec.Dir, files[0])
	_, _, run2, _ := parseSegmentFile(g.rec.Dir, files[1])
	if run1 == run2 {
		t.Fatal("frames lost to the slow disk did not end the run")
	}
	if d := metricValue(t, g.rec, "skyrelay_record_write_errors_total"); d != 0 {
		t.Fatalf("%v write errors: a slow disk is not a failing one", d)
	}
	for _, f := range files {
		// No sample may span the lost frames: a segment is at most the
		// GOPs it holds, and DTS rise.
		if c := checkMedia(t, f); c.nonIncreasing != 0 || float64(c.frames)/25 < c.duration-0.1 {
			t.Fatalf("%s: %+v: a gap became a duration", f, c)
		}
	}
}

// startOf is when the recorder's first segment started (zero before).
func startOf(r *Recorder) time.Time {
	for _, l := range r.idx.snapshot("") {
		if len(l) > 0 {
			return l[0].start
		}
	}
	return time.Now()
}

// fakeDJIPaced publishes 25 fps of the sim clip on path in real time and
// records the slowest WriteUnit.
func fakeDJIPaced(t *testing.T, g *rig, path string, frames int, slowest *atomic.Int64) {
	t.Helper()
	c, vt := simClip(t)
	pub, err := g.hub.Publish(path, gateway.SourceInfo{Protocol: "fake"}, []*gateway.Track{vt})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	start := time.Now()
	for i := 0; i < frames; i++ {
		t0 := time.Now()
		pub.WriteUnit(0, int64(i)*3600, c.AUs[i%len(c.AUs)])
		if d := int64(time.Since(t0)); d > slowest.Load() {
			slowest.Store(d)
		}
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * 40 * time.Millisecond)))
	}
}
