package record

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/internal/h264clip"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// simClip is the docksim clip (10 s, 25 fps, 640x360 H.264) and a track
// for it.
func simClip(t *testing.T) (*h264clip.Clip, *gateway.Track) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testpeer.Root(), "sim", "clip", "clip.h264"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := h264clip.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	vt, err := gateway.TrackFor(&format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: c.SPS, PPS: c.PPS})
	if err != nil {
		t.Fatal(err)
	}
	return c, vt
}

// fakeDJI publishes the embedded sim clip the way a DJI dock does: an
// announced AAC track that never sends, every picture preceded by an
// SEI-only access unit of its own at the same timestamp, and (optionally)
// a 10 s forward timestamp jump halfway. It paces frames in real time and
// feeds OSD telemetry to the recorder as the control plane would.
func fakeDJI(t *testing.T, g *rig, path, sn string, frames int, jumpAt int) {
	t.Helper()
	c, vt := simClip(t)
	at, err := gateway.TrackFor(&format.MPEG4Audio{PayloadTyp: 97, Config: &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 44100, ChannelCount: 1},
		SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := g.hub.Publish(path, gateway.SourceInfo{Protocol: "fake"}, []*gateway.Track{vt, at})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sei := []byte{6, 5, 16, 'D', 'J', 'I', '-', 'S', 'E', 'I', '-', 'T', 'E', 'S', 'T', '-', '-', '-', '-', 0x80}
	start := time.Now()
	var offset int64
	for i := 0; i < frames; i++ {
		if i == jumpAt {
			offset += 10 * 90000
		}
		pts := int64(i)*3600 + offset
		pub.WriteUnit(0, pts, [][]byte{sei})
		pub.WriteUnit(0, pts, c.AUs[i%len(c.AUs)])
		if i%5 == 0 {
			osd := fmt.Sprintf(`{"latitude":22.5,"longitude":113.9,"height":%d,"frame":%d}`, 100+i, i)
			g.rec.OSD(sn, time.Now(), json.RawMessage(osd))
		}
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * 40 * time.Millisecond)))
	}
}

// TestRecordDJIShapes: what a DJI dock sends is recorded as files browsers
// play: SEI-only units merged into pictures (packets == frames), the silent
// AAC track left out, a timestamp jump cut into a new run rather than
// encoded as a long sample, DTS rising strictly; the device metadata and
// OSD lines sit beside the segments, come back through the API and the
// search by device, survive a restart, and reach the segment hook.
func TestRecordDJIShapes(t *testing.T) {
	testpeer.Require(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	hookLog := filepath.Join(t.TempDir(), "hook.log")
	g := newRig(t, func(r *Recorder) {
		r.Dir, r.PartDuration = dir, 200*time.Millisecond
		r.OnSegmentComplete = `echo "$SKYRELAY_PATH|$SKYRELAY_DEVICE_SN|$SKYRELAY_FLIGHT_ID|$SKYRELAY_SEGMENT_PATH" >> ` + hookLog
	})
	const path, sn = "1581F6Q8X24B0001/165-0-7/normal-0", "1581F6Q8X24B0001"
	g.rec.SetDevice(path, Device{SN: sn, VideoID: "1581F6Q8X24B0001/165-0-7/normal-0", FlightID: "wayline-job-42"})
	begin := time.Now()
	fakeDJI(t, g, path, sn, 100, 50)
	files := g.waitSegments(t, 2, 30*time.Second)
	for _, f := range files {
		c := checkMedia(t, f)
		if c.video != "h264" || c.audio != "" {
			t.Fatalf("%s: tracks %q/%q, want h264 alone (the silent AAC left out)", f, c.video, c.audio)
		}
		if c.videoPkts != c.frames || c.frames < 45 || c.frames > 50 {
			t.Fatalf("%s: %d packets, %d frames; want equal (no picture-less sample), 45..50", f, c.videoPkts, c.frames)
		}
		if c.nonIncreasing != 0 || c.duration > 2.5 {
			t.Fatalf("%s: %+v: the jump must not become a duration", f, c)
		}
	}
	_, _, run1, _ := parseSegmentFile(dir, files[0])
	_, _, run2, _ := parseSegmentFile(dir, files[1])
	if run1 == run2 {
		t.Fatal("a 10 s timestamp jump did not start a new run")
	}

	// Search by device and time.
	q := "/api/v1/recordings?device=" + sn + "&from=" + url.QueryEscape(begin.Add(-time.Minute).Format(time.RFC3339)) +
		"&to=" + url.QueryEscape(time.Now().Add(time.Minute).Format(time.RFC3339))
	st, _, b := g.get(t, "GET", q)
	var found struct {
		Items []pathItem `json:"items"`
	}
	if st != 200 || json.Unmarshal(b, &found) != nil || len(found.Items) != 1 || len(found.Items[0].Matches) != 2 ||
		found.Items[0].Matches[0].FlightID != "wayline-job-42" {
		t.Fatalf("search by device: %d %s", st, b)
	}
	st, _, b = g.get(t, "GET", "/api/v1/recordings?device=OTHER")
	if st != 200 || strings.Contains(string(b), path) {
		t.Fatalf("search by another device found %s", b)
	}
	// Search by flight, alone and with the device.
	for _, c := range []struct {
		q       string
		matches int
	}{
		{"?flight=wayline-job-42", 2},
		{"?device=" + sn + "&flight=wayline-job-42", 2},
		{"?device=" + sn + "&flight=wayline-job-7", 0},
		{"?flight=wayline-job-7", 0},
	} {
		found.Items = nil
		st, _, b = g.get(t, "GET", "/api/v1/recordings"+c.q)
		n := 0
		if st == 200 && json.Unmarshal(b, &found) == nil {
			for _, it := range found.Items {
				n += len(it.Matches)
			}
		}
		if n != c.matches {
			t.Fatalf("search %s: %d %s, want %d matches", c.q, st, b, c.matches)
		}
	}
	// OSD back, time-aligned.
	st, _, b = g.get(t, "GET", "/api/v1/recordings/"+path+"/osd?start="+url.QueryEscape(begin.Add(-time.Second).Format(time.RFC3339Nano))+"&duration=60")
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if st != 200 || len(lines) < 15 {
		t.Fatalf("osd: %d, %d lines", st, len(lines))
	}
	var l osdLine
	if err := json.Unmarshal([]byte(lines[0]), &l); err != nil || l.Offset < 0 || l.Offset > 1 || !strings.Contains(string(l.OSD), `"height"`) {
		t.Fatalf("osd line %s: %v", lines[0], err)
	}
	// The control plane's session ends: the segment recorded during it
	// keeps its device and flight (the hook below sees them on both).
	g.rec.SetVideo(path, "", "", "")
	g.rec.Close()
	hooks, err := os.ReadFile(hookLog)
	if err != nil || strings.Count(string(hooks), path+"|"+sn+"|wayline-job-42|"+dir) != 2 {
		t.Fatalf("hook ran: %q %v", hooks, err)
	}

	// A restart rebuilds the index, metadata included, from the files.
	again := &Recorder{Dir: dir, Log: g.rec.Log}
	if err := again.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	l2 := again.idx.snapshot(path)[path]
	if len(l2) != 2 || l2[0].meta.SN != sn || l2[1].meta.FlightID != "wayline-job-42" || l2[0].dur < 1.5 {
		t.Fatalf("rebuilt index: %+v", l2)
	}
}
