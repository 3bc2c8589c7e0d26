package record

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// smallDisk mounts a 600 KiB tmpfs (root only) or, where mounting is not
// allowed, gives a recordings folder that cannot be made (its parent is a
// file): either way writes fail.
func smallDisk(t *testing.T) (dir string, full bool) {
	t.Helper()
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=600k"); err == nil {
		t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
		return filepath.Join(mnt, "rec"), true
	}
	file := filepath.Join(mnt, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(file, "rec"), false
}

// TestRecordDiskFull: the 3 Mbit/s clip into a tiny disk. Recording
// fails with a clear error and metric, every file left on the disk still
// decodes, and a live reader of the same stream keeps getting frames.
func TestRecordDiskFull(t *testing.T) {
	testpeer.Require(t, "ffmpeg", "ffprobe")
	clip := testpeer.Clip(t, testpeer.ClipH264720p30)
	dir, full := smallDisk(t)
	g := newRig(t, func(r *Recorder) { r.Dir, r.PartDuration = dir, 200*time.Millisecond })
	stop := g.startPush(t, clip, "full/cam")
	defer stop()
	ctx := testpeer.Context(t, 30*time.Second)
	if err := g.hub.WaitReady(ctx, "full/cam"); err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{}, 1024)
	live := &gateway.Reader{Protocol: "test", SkipRTP: true, Handle: func(gateway.Frame) error {
		select {
		case got <- struct{}{}:
		default:
		}
		return nil
	}}
	if err := g.hub.Stream("full/cam").AddReader(live); err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	// Wait for the write error to show in the metric.
	deadline := time.Now().Add(20 * time.Second)
	for metricValue(t, g.rec, "skyrelay_record_write_errors_total") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no write error counted")
		}
		<-got // wait on frames, not on a clock
	}
	// Live frames still flow after the failure.
	for i := 0; i < 60; i++ {
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatalf("live reader starved after the disk filled (%d frames)", i)
		}
	}
	st, _, b := g.get(t, "GET", "/api/v1/recordings")
	if st != 200 {
		t.Fatalf("list after disk full: %d", st)
	}
	if full {
		if !strings.Contains(string(b), "no space left on device") {
			t.Fatalf("the listing does not say why: %s", b)
		}
	} else if !strings.Contains(string(b), "not a directory") && metricValue(t, g.rec, "skyrelay_record_paths_failing") != 1 {
		t.Fatalf("unwritable folder not reported: %s", b)
	}
	if full {
		// Space comes back: the path resumes in a new file by itself (on a
		// full disk no part is written whole, so bytes_written stands still).
		before := metricValue(t, g.rec, "skyrelay_record_bytes_written_total")
		if st, _, b := g.get(t, "DELETE", "/api/v1/recordings/full/cam?before="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))); st != 204 {
			t.Fatalf("delete: %d %s", st, b)
		}
		deadline := time.Now().Add(20 * time.Second)
		for metricValue(t, g.rec, "skyrelay_record_bytes_written_total") == before {
			if time.Now().After(deadline) {
				t.Fatal("recording did not resume after space came back")
			}
			<-got
		}
	}
	stop()
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".mp4") {
			if out, err := exec.Command("ffmpeg", "-v", "error", "-xerror", "-i", p, "-f", "null", "-").CombinedOutput(); err != nil {
				t.Errorf("%s left undecodable after disk full: %v %s", p, err, out)
			}
		}
		return nil
	})
}

// TestRecordRetention: segments that ended longer ago than delete_after
// are deleted with their side files and empty folders; the open one stays.
func TestRecordRetention(t *testing.T) {
	testpeer.Require(t, "ffmpeg")
	clip := testpeer.Clip(t, testpeer.ClipH264SmallAAC)
	g := newRig(t, func(r *Recorder) {
		r.SegmentDuration, r.PartDuration, r.DeleteAfter = time.Second, 200*time.Millisecond, 1500*time.Millisecond
	})
	g.push(t, clip, "old/cam")
	files := g.waitSegments(t, 4, 30*time.Second) // three rotations and the end of the push
	deadline := time.Now().Add(15 * time.Second)
	for {
		left := 0
		for _, f := range files {
			if _, err := os.Stat(f); err == nil {
				left++
			}
		}
		_, err := os.Stat(filepath.Join(g.rec.Dir, "old"))
		if left == 0 && os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d segments survived delete_after; folder: %v", left, len(files), err)
		}
		time.Sleep(100 * time.Millisecond) // polling the disk: retention emits no event
	}
	if n := metricValue(t, g.rec, "skyrelay_record_segments_deleted_total"); n != float64(len(files)) {
		t.Fatalf("%v segments counted deleted, want %d", n, len(files))
	}
	// The path may still be attached (its stream waits for the publisher),
	// so it can be listed, but without segments.
	if st, _, b := g.get(t, "GET", "/api/v1/recordings/old/cam"); st != 404 && !strings.Contains(string(b), `"segments":[]`) {
		t.Fatalf("deleted recordings still listed: %d %s", st, b)
	}
}

// TestRecordUnwritableDir: a recordings folder that cannot be made (its
// parent is a file) is an error in the log, the metric and the API, and
// the stream is still playable; a failing segment hook is counted too.
func TestRecordUnwritableDir(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(parent, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	g := newRig(t, func(r *Recorder) { r.Dir, r.PartDuration = filepath.Join(parent, "rec"), 200*time.Millisecond })
	if metricValue(t, g.rec, "skyrelay_record_write_errors_total") == 0 {
		t.Fatal("an unmakeable folder at start is not counted")
	}
	var slowest atomic.Int64
	fakeDJIPaced(t, g, "nodir/cam", 50, &slowest)
	if metricValue(t, g.rec, "skyrelay_record_paths_failing") != 1 {
		t.Fatal("the failing path is not in skyrelay_record_paths_failing")
	}
	st, _, b := g.get(t, "GET", "/api/v1/recordings/nodir/cam")
	if st != 200 || !strings.Contains(string(b), "not a directory") {
		t.Fatalf("the API does not say why: %d %s", st, b)
	}
	if s := g.hub.Stream("nodir/cam"); s == nil {
		t.Fatal("the stream is gone")
	}
	if d := time.Duration(slowest.Load()); d > 200*time.Millisecond {
		t.Fatalf("a publisher write took %v", d)
	}
}

// TestRecordHookFailure: a segment hook that exits non-zero is logged and
// counted; recording goes on.
func TestRecordHookFailure(t *testing.T) {
	g := newRig(t, func(r *Recorder) { r.PartDuration, r.OnSegmentComplete = 200*time.Millisecond, "exit 3" })
	var slowest atomic.Int64
	fakeDJIPaced(t, g, "hook/cam", 30, &slowest)
	g.waitSegments(t, 1, 30*time.Second)
	g.rec.Close() // waits for the hooks
	if n := metricValue(t, g.rec, "skyrelay_record_hook_failures_total"); n != 1 {
		t.Fatalf("%v hook failures counted, want 1", n)
	}
}
