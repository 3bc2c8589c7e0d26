package record

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// listing is GET /api/v1/recordings/{path}.
type listing struct {
	Path     string        `json:"path"`
	Segments []segmentItem `json:"segments"`
}

func (g *rig) listing(t *testing.T, path string) listing {
	t.Helper()
	st, _, b := g.get(t, "GET", "/api/v1/recordings/"+path)
	if st != 200 {
		t.Fatalf("GET recordings/%s: %d %s", path, st, b)
	}
	var l listing
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

func mp4URL(path string, start time.Time, secs float64) string {
	return "/api/v1/recordings/" + path + "/mp4?start=" + url.QueryEscape(start.UTC().Format(time.RFC3339Nano)) +
		"&duration=" + strconv.FormatFloat(secs, 'f', -1, 64)
}

// TestRecordRTMPAcrossSegments: ffmpeg pushes a 4 s H.264+AAC clip; the
// recording is cut every second (keyframe every second), each segment
// decodes on its own with rising DTS and AAC, and the API serves the
// whole range as one MP4 that decodes with every frame, and answers
// byte ranges with the same bytes.
func TestRecordRTMPAcrossSegments(t *testing.T) {
	testpeer.Require(t, "ffmpeg", "ffprobe")
	clip := testpeer.Clip(t, testpeer.ClipH264SmallAAC)
	g := newRig(t, func(r *Recorder) { r.SegmentDuration, r.PartDuration = time.Second, 200*time.Millisecond })
	g.push(t, clip, "drone/cam")
	files := g.waitSegments(t, 3, 30*time.Second)
	for _, f := range files {
		c := checkMedia(t, f)
		if c.video != "h264" || c.audio != "aac" {
			t.Fatalf("%s: codecs %q/%q, want h264/aac", f, c.video, c.audio)
		}
		if c.nonIncreasing != 0 {
			t.Fatalf("%s: %d packets whose DTS does not rise", f, c.nonIncreasing)
		}
		if c.frames < 20 {
			t.Fatalf("%s: %d frames decoded, a segment holds at least one 1 s GOP (25)", f, c.frames)
		}
	}
	// The part table written at close says what walking the boxes says.
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := fh.Stat()
		walked, err1 := scanSegment(fh, st.Size())
		fromIdx, err2 := readScan(fh, st.Size())
		b, err3 := os.ReadFile(sidecar(f, idxExt))
		fh.Close()
		if err1 != nil || err2 != nil || err3 != nil || !reflect.DeepEqual(walked.parts, fromIdx.parts) || walked.end != st.Size() {
			t.Fatalf("%s: part table differs from the boxes: %v %v %v", f, err1, err2, err3)
		}
		if _, err := parseIdx(b, st.Size()+1); err == nil {
			t.Fatal("a part table for another size was taken")
		}
	}
	l := g.listing(t, "drone/cam")
	if len(l.Segments) < 3 {
		t.Fatalf("API lists %d segments, want >= 3: %+v", len(l.Segments), l)
	}
	first := l.Segments[0].Start
	st, hdr, full := g.get(t, "GET", mp4URL("drone/cam", first.Add(-time.Second), 60))
	if st != 200 {
		t.Fatalf("mp4: %d %s", st, full)
	}
	if hdr.Get("Accept-Ranges") != "bytes" || hdr.Get("Content-Type") != "video/mp4" {
		t.Fatalf("mp4 headers: %v", hdr)
	}
	c := checkMedia(t, writeTemp(t, full))
	if c.video != "h264" || c.audio != "aac" || c.nonIncreasing != 0 {
		t.Fatalf("range mp4: %+v", c)
	}
	// 4 s at 25 fps; the clip is pushed whole, so at most the part a
	// reconnect-free run can lose at the very end is missing.
	if c.frames < 95 || c.frames > 100 {
		t.Fatalf("range mp4 decodes %d frames, want 95..100", c.frames)
	}
	if c.duration < 3.8 || c.duration > 4.3 {
		t.Fatalf("range mp4 lasts %.2f s, want about 4", c.duration)
	}
	// Its header says so too (Safari shows the header's duration).
	if _, mehd, err := headerDuration(full); err != nil || hdr.Get("X-Recording-Duration") != strconv.FormatFloat(mehd, 'f', 3, 64) {
		t.Fatalf("header duration %v (%v), X-Recording-Duration %s", mehd, err, hdr.Get("X-Recording-Duration"))
	}
	// Byte ranges.
	st, hdr, part := g.get(t, "GET", mp4URL("drone/cam", first.Add(-time.Second), 60), "Range", "bytes=1000-1999")
	if st != 206 || !bytes.Equal(part, full[1000:2000]) {
		t.Fatalf("range request: %d, %d bytes, same=%v", st, len(part), bytes.Equal(part, full[1000:min(2000, len(full))]))
	}
	if want := "bytes 1000-1999/" + itoa(len(full)); hdr.Get("Content-Range") != want {
		t.Fatalf("Content-Range %q, want %q", hdr.Get("Content-Range"), want)
	}
	st, _, _ = g.get(t, "GET", mp4URL("drone/cam", first.Add(-time.Second), 60), "Range", "bytes="+itoa(len(full)+10)+"-")
	if st != 416 {
		t.Fatalf("range past the end: %d, want 416", st)
	}
	// A range in the middle starts at its keyframe: about 2 s of 4.
	st, _, mid := g.get(t, "GET", mp4URL("drone/cam", first.Add(1500*time.Millisecond), 1.5))
	if st != 200 {
		t.Fatalf("middle range: %d", st)
	}
	if c := checkMedia(t, writeTemp(t, mid)); c.frames < 25 || c.frames > 75 || c.nonIncreasing != 0 {
		t.Fatalf("middle range: %+v, want 1..3 GOPs", c)
	}
	// Errors.
	for u, want := range map[string]int{
		mp4URL("drone/cam", first.Add(-time.Hour), 10):                404,
		"/api/v1/recordings/drone/cam/mp4?start=yesterday&duration=1": 400,
		mp4URL("drone/cam", first, 0):                                 400,
		"/api/v1/recordings/never/recorded":                           404,
	} {
		if st, _, b := g.get(t, "GET", u); st != want {
			t.Fatalf("GET %s: %d %s, want %d", u, st, b, want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestRecordReconnect: a publisher that leaves and comes back (within the
// stream's grace period) starts a new run in a new file; the range MP4
// plays across both.
func TestRecordReconnect(t *testing.T) {
	testpeer.Require(t, "ffmpeg", "ffprobe")
	clip := testpeer.Clip(t, testpeer.ClipH264SmallAAC)
	g := newRig(t, func(r *Recorder) { r.PartDuration = 200 * time.Millisecond })
	g.push(t, clip, "dock/1")
	files := g.waitSegments(t, 1, 30*time.Second)
	g.push(t, clip, "dock/1")
	files = g.waitSegments(t, 2, 30*time.Second)
	_, _, run1, _ := parseSegmentFile(g.rec.Dir, files[0])
	_, _, run2, _ := parseSegmentFile(g.rec.Dir, files[1])
	if run1 == run2 || run1 == "" {
		t.Fatalf("runs %q and %q: a reconnect must start a new run", run1, run2)
	}
	l := g.listing(t, "dock/1")
	st, _, b := g.get(t, "GET", mp4URL("dock/1", l.Segments[0].Start.Add(-time.Second), 120))
	if st != 200 {
		t.Fatalf("mp4: %d", st)
	}
	c := checkMedia(t, writeTemp(t, b))
	if c.nonIncreasing != 0 || c.audio != "aac" || c.frames < 190 || c.frames > 200 {
		t.Fatalf("two runs as one MP4: %+v, want about 200 frames", c)
	}
}

// TestRecordStartStopAndDelete: a path outside record.paths is recorded
// only on request; DELETE ?before= removes what ended before.
func TestRecordStartStopAndDelete(t *testing.T) {
	testpeer.Require(t, "ffmpeg")
	clip := testpeer.Clip(t, testpeer.ClipH264SmallAAC)
	g := newRig(t, func(r *Recorder) { r.Paths = []string{"recorded/*"}; r.PartDuration = 200 * time.Millisecond })
	st, _, b := g.get(t, "POST", "/api/v1/recordings/adhoc/cam/start")
	if st != 200 {
		t.Fatalf("start: %d %s", st, b)
	}
	g.push(t, clip, "adhoc/cam")
	g.push(t, clip, "other/cam") // not recorded
	g.waitSegments(t, 1, 30*time.Second)
	if st, _, _ := g.get(t, "GET", "/api/v1/recordings/other/cam"); st != 404 {
		t.Fatalf("a path neither configured nor started was recorded (%d)", st)
	}
	st, _, b = g.get(t, "GET", "/api/v1/recordings")
	if st != 200 || !strings.Contains(string(b), `"path":"adhoc/cam"`) {
		t.Fatalf("list: %d %s", st, b)
	}
	if st, _, _ := g.get(t, "POST", "/api/v1/recordings/adhoc/cam/stop"); st != 200 {
		t.Fatalf("stop: %d", st)
	}
	l := g.listing(t, "adhoc/cam")
	file := filepath.Join(g.rec.Dir, "adhoc", "cam", l.Segments[0].Start.UTC().Format(dayLayout))
	if st, _, _ := g.get(t, "DELETE", "/api/v1/recordings/adhoc/cam?before="+url.QueryEscape(time.Now().Add(time.Minute).Format(time.RFC3339))); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st, _, _ := g.get(t, "GET", "/api/v1/recordings/adhoc/cam"); st != 404 {
		t.Fatalf("deleted path still listed (%d)", st)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("day folder %s left behind: %v", file, err)
	}
	if st, _, _ := g.get(t, "DELETE", "/api/v1/recordings/adhoc/cam?before=soon"); st != 400 {
		t.Fatalf("bad before: %d, want 400", st)
	}
}

// TestRecordServeOpenSegment: the segment being written is served too,
// from the writer's table of whole parts, which agrees with its boxes.
func TestRecordServeOpenSegment(t *testing.T) {
	testpeer.Require(t, "ffmpeg", "ffprobe")
	clip := testpeer.Clip(t, testpeer.ClipH264SmallAAC)
	g := newRig(t, func(r *Recorder) { r.PartDuration = 200 * time.Millisecond })
	stop := g.startPush(t, clip, "live/open")
	defer stop()
	var l listing
	deadline := time.Now().Add(30 * time.Second)
	for len(l.Segments) == 0 || l.Segments[0].Duration < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no open segment of 3 s: %+v", l)
		}
		time.Sleep(100 * time.Millisecond) // polling the API: no event for a part written
		if st, _, b := g.get(t, "GET", "/api/v1/recordings/live/open"); st == 200 {
			_ = json.Unmarshal(b, &l)
		}
	}
	if !l.Segments[0].Open {
		t.Fatal("the segment being written is not listed open")
	}
	e := g.rec.idx.entries("live/open")[0]
	var live []partInfo
	g.rec.idx.update(e, func(e *entry) { live = e.live })
	f, err := os.Open(e.file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	walked, err := scanSegment(f, st.Size())
	if err != nil || len(walked.parts) < len(live) || !reflect.DeepEqual(walked.parts[:len(live)], live) {
		t.Fatalf("the writer's table (%d parts) differs from the boxes (%d parts): %v", len(live), len(walked.parts), err)
	}
	code, _, b := g.get(t, "GET", mp4URL("live/open", l.Segments[0].Start, 60))
	if code != 200 {
		t.Fatalf("mp4 of the open segment: %d", code)
	}
	if c := checkMedia(t, writeTemp(t, b)); c.frames < 70 || c.nonIncreasing != 0 || c.audio != "aac" {
		t.Fatalf("open segment served: %+v", c)
	}
}
