package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// recordingList is GET /api/v1/recordings/{path}.
type recordingList struct {
	Segments []struct {
		Start    time.Time `json:"start"`
		Duration float64   `json:"duration"`
		Bytes    int64     `json:"bytes"`
	} `json:"segments"`
}

// TestE2ERecordKill9: the binary records an RTMP push; kill -9 of the
// gateway loses at most part_duration (plus the frame held back for its
// duration); after a restart on the same folder the torn tail is cut, the
// segment is listed and served, and ffmpeg decodes it without error.
func TestE2ERecordKill9(t *testing.T) {
	testpeer.Require(t, "ffmpeg", "ffprobe")
	clip := testpeer.Clip(t, testpeer.ClipH264SmallAAC)
	dir := t.TempDir()
	const part = 500 * time.Millisecond
	cfg := fmt.Sprintf("record: {enabled: true, dir: %q, part_duration: 500ms, segment_duration: 1h}\n", dir)
	g := gwproc.Start(t, cfg)
	testpeer.Start(t, "ffmpeg", "-v", "error", "-re", "-stream_loop", "-1", "-i", clip, "-c", "copy", "-f", "flv", g.RTMPURL("rec/kill"))
	// Wait until the recording holds a few seconds.
	var l recordingList
	deadline := time.Now().Add(40 * time.Second)
	for len(l.Segments) == 0 || l.Segments[0].Duration < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("recording did not grow: %+v", l)
		}
		time.Sleep(200 * time.Millisecond) // the API is polled: there is no event to wait on
		l = recordingList{}
		call(t, g, "GET", "/api/v1/recordings/rec/kill", "", &l)
	}
	start := l.Segments[0].Start
	killed := time.Now()
	if err := g.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = g.Wait()
	recorded := killed.Sub(start).Seconds()

	g2 := gwproc.Start(t, cfg)
	l = recordingList{}
	if st := call(t, g2, "GET", "/api/v1/recordings/rec/kill", "", &l); st != 200 || len(l.Segments) != 1 {
		t.Fatalf("after restart: %d %+v", st, l)
	}
	got := l.Segments[0].Duration
	lost := recorded - got
	t.Logf("recorded %.3f s before kill -9, %.3f s on disk: lost %.3f s (part_duration %v)", recorded, got, lost, part)
	// One frame (40 ms) is held back for its duration; the arrival stamp
	// of the first keyframe may run ahead of the wall clock by the
	// replayed GOP's span, which makes lost look smaller, never larger.
	if lost > (part + 80*time.Millisecond).Seconds() {
		t.Fatalf("kill -9 lost %.3f s, more than part_duration", lost)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "rec", "kill", "*", "*.mp4"))
	if len(files) != 1 {
		t.Fatalf("segment files: %v", files)
	}
	if out, err := exec.Command("ffmpeg", "-v", "error", "-xerror", "-i", files[0], "-f", "null", "-").CombinedOutput(); err != nil {
		t.Fatalf("recovered segment does not decode: %v %s", err, out)
	}
	// And the API serves it as an MP4.
	u := "/api/v1/recordings/rec/kill/mp4?start=" + url.QueryEscape(start.Format(time.RFC3339Nano)) + "&duration=" + strconv.Itoa(60)
	p, err := testpeer.ProbeURL(testpeer.Context(t, 30*time.Second), g2.URL(u))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Audio(); !ok {
		b, _ := json.Marshal(p.Streams)
		t.Fatalf("served MP4 without AAC: %s", b)
	}
}

// TestE2ERecordDockSession: a simulated Dock 3 pushes the aircraft's
// camera after POST /api/v1/live; the recording is found by the device's
// SN, carries the session's video_id, and has the aircraft's OSD beside
// it.
func TestE2ERecordDockSession(t *testing.T) {
	g := gwproc.Start(t, fmt.Sprintf("record: {enabled: true, dir: %q, part_duration: 500ms}\n", t.TempDir()))
	d := startDock(t, g, nil)
	video := d.VideoIDs()[1]
	sn, _, _ := strings.Cut(video, "/")
	if code := call(t, g, "POST", "/api/v1/live", fmt.Sprintf(`{"video_id":%q,"protocol":"rtmp"}`, video), nil); code != 201 {
		t.Fatalf("POST /api/v1/live: %d", code)
	}
	var found struct {
		Items []struct {
			Path    string `json:"path"`
			Matches []struct {
				DeviceSN string `json:"device_sn"`
				VideoID  string `json:"video_id"`
			} `json:"matches"`
		} `json:"items"`
	}
	eventually(t, 30*time.Second, "the recording found by device SN", func() bool {
		found.Items = nil
		return call(t, g, "GET", "/api/v1/recordings?device="+url.QueryEscape(sn), "", &found) == 200 &&
			len(found.Items) == 1 && len(found.Items[0].Matches) > 0
	})
	if it := found.Items[0]; it.Path != video || it.Matches[0].VideoID != video || it.Matches[0].DeviceSN != sn {
		t.Fatalf("found %+v, want path and video_id %s, SN %s", it, video, sn)
	}
	// The aircraft's OSD (the dock sends it every 2 s) is saved beside the
	// recording and comes back through the API.
	from := url.QueryEscape(time.Now().Add(-time.Minute).Format(time.RFC3339))
	eventually(t, 20*time.Second, "OSD lines beside the recording", func() bool {
		body := httpGet(t, g.URL("/api/v1/recordings/"+video+"/osd?start="+from+"&duration=120"))
		return strings.Contains(body, `"latitude"`) && strings.Contains(body, `"offset"`)
	})
}
