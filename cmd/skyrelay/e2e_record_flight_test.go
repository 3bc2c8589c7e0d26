package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
	"github.com/skyrelay/skyrelay/sim"
)

// TestE2ERecordFlight: a simulated Dock 3 flying a wayline task
// (flighttask_progress) pushes its aircraft's camera after POST
// /api/v1/live, with recording on. The control plane tells the recorder
// the device, video and flight, and hands it the aircraft's OSD as it
// arrives; the recording is found by device and flight, its OSD lines fall
// within the span ffprobe reads from its media, and the recorder is no
// viewer: the push is idle-stopped as if nobody recorded it.
func TestE2ERecordFlight(t *testing.T) {
	testpeer.Require(t, "ffprobe")
	const flight = "wayline-job-e2e-1"
	g := gwproc.Start(t, fmt.Sprintf("record: {enabled: true, dir: %q, part_duration: 500ms}\ncontrol: {idle_stop_after: 5s}\n", t.TempDir()))
	d := startFlyingDock(t, g, flight)
	video := d.VideoIDs()[1] // the aircraft's camera
	sn, _, _ := strings.Cut(video, "/")
	began := time.Now()
	if code := call(t, g, "POST", "/api/v1/live", fmt.Sprintf(`{"video_id":%q,"protocol":"rtmp"}`, video), nil); code != 201 {
		t.Fatalf("POST /api/v1/live: %d", code)
	}

	// Nobody watches; the recorder alone must not keep the push alive.
	var s struct {
		State    string `json:"state"`
		FlightID string `json:"flight_id"`
		End      *struct {
			Cause string `json:"cause"`
		} `json:"end"`
	}
	eventually(t, 60*time.Second, "the push idle-stopped although recorded", func() bool {
		return call(t, g, "GET", "/api/v1/live/"+video, "", &s) == 200 && s.End != nil
	})
	if s.End.Cause != "idle_stop" || s.FlightID != flight {
		t.Fatalf("session ended %+v with flight %q, want idle_stop during %s", s.End, s.FlightID, flight)
	}

	// Found by device and flight within the time of the test; by another
	// flight, not found.
	q := func(extra string) string {
		return "/api/v1/recordings?device=" + url.QueryEscape(sn) + extra + "&from=" +
			url.QueryEscape(began.Add(-time.Second).Format(time.RFC3339Nano)) + "&to=" + url.QueryEscape(time.Now().Add(time.Second).Format(time.RFC3339Nano))
	}
	type match struct {
		Start    time.Time `json:"start"`
		Duration float64   `json:"duration"`
		DeviceSN string    `json:"device_sn"`
		VideoID  string    `json:"video_id"`
		FlightID string    `json:"flight_id"`
	}
	var found struct {
		Items []struct {
			Path    string  `json:"path"`
			Matches []match `json:"matches"`
		} `json:"items"`
	}
	if code := call(t, g, "GET", q("&flight="+url.QueryEscape(flight)), "", &found); code != 200 || len(found.Items) != 1 || len(found.Items[0].Matches) == 0 {
		t.Fatalf("search by device and flight: %d %+v", code, found)
	}
	m := found.Items[0].Matches[0]
	if found.Items[0].Path != video || m.DeviceSN != sn || m.VideoID != video || m.FlightID != flight || m.Duration < 1 {
		t.Fatalf("found %s %+v, want %s by %s in %s", found.Items[0].Path, m, video, sn, flight)
	}
	found.Items = nil
	if code := call(t, g, "GET", q("&flight=another-job"), "", &found); code != 200 || len(found.Items) != 0 {
		t.Fatalf("search by another flight: %d %+v", code, found)
	}

	// The media of the segment, read back by ffprobe: H.264 frames over
	// the segment's duration.
	rng := "start=" + url.QueryEscape(m.Start.Format(time.RFC3339Nano)) + "&duration=" + strconv.FormatFloat(m.Duration, 'f', 3, 64)
	mp4 := g.URL("/api/v1/recordings/" + video + "/mp4?" + rng)
	p, err := testpeer.ProbeURL(testpeer.Context(t, 30*time.Second), mp4, "-read_intervals", "%+60")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := p.Video(); !ok || v.Codec != "h264" || v.Packets < 10 {
		t.Fatalf("recording's media: %s", p.JSON)
	}
	mediaDur := probeDuration(t, mp4)
	if mediaDur < m.Duration-0.5 || mediaDur > m.Duration+0.5 {
		t.Fatalf("ffprobe reads %.3f s, the API says %.3f s", mediaDur, m.Duration)
	}

	// Its OSD: the aircraft's, each line stamped within the segment's span
	// (offset = t - start), the offsets where the MP4's timeline has them.
	body := httpGet(t, g.URL("/api/v1/recordings/"+video+"/osd?"+rng))
	var lines int
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		var l struct {
			T      time.Time       `json:"t"`
			Offset float64         `json:"offset"`
			OSD    json.RawMessage `json:"osd"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("osd line %q: %v", sc.Text(), err)
		}
		lines++
		if off := l.T.Sub(m.Start).Seconds(); off-l.Offset > 0.001 || l.Offset-off > 0.001 {
			t.Errorf("osd line at %v has offset %.3f, want %.3f from the segment's start %v", l.T, l.Offset, off, m.Start)
		}
		// The last line may arrive just after the last frame, before the
		// segment closes: up to one part_duration later.
		if l.Offset < 0 || l.Offset > mediaDur+0.5 {
			t.Errorf("osd line at offset %.3f outside the media's %.3f s", l.Offset, mediaDur)
		}
		if !strings.Contains(string(l.OSD), `"latitude"`) {
			t.Errorf("osd line is not the aircraft's: %s", l.OSD)
		}
	}
	// OSD every 300 ms over the segment: at least one line a second.
	if lines < int(m.Duration) {
		t.Fatalf("%d osd lines over %.1f s of recording:\n%s", lines, m.Duration, body)
	}
	t.Logf("recording of %s in %s: %.2f s (ffprobe %.2f s), %d osd lines", video, flight, m.Duration, mediaDur, lines)
}

// startFlyingDock runs a simulated dock reporting flight task flight
// running, with OSD every 300 ms, and waits until the gateway knows its
// cameras.
func startFlyingDock(t *testing.T, g *gwproc.Process, flight string) sim.Dock {
	t.Helper()
	return startDockWith(t, g, sim.Options{EventInterval: -1, OSDInterval: 300 * time.Millisecond, FlightID: flight})
}

// probeDuration is the duration ffprobe reads from a media URL's container.
func probeDuration(t *testing.T, u string) float64 {
	t.Helper()
	out, err := exec.CommandContext(testpeer.Context(t, 30*time.Second), "ffprobe", "-v", "error",
		"-show_entries", "format=duration", "-of", "csv=p=0", u).Output()
	if err != nil {
		t.Fatalf("ffprobe duration of %s: %v", u, err)
	}
	d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatalf("ffprobe duration %q: %v", out, err)
	}
	return d
}
