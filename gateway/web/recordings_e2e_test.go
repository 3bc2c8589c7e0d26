package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
)

// TestRecordingsTimelinePlays: a path recorded in 2 s segments is listed on
// /recordings/ and linked from the console's stream row; after a pause and
// a second push, its playback view draws one bar per segment the API lists
// in two runs (the gap visible), a click on the
// timeline plays the range MP4 (currentTime advances, frames decode) and
// the position marker moves with it.
func TestRecordingsTimelinePlays(t *testing.T) {
	dir := t.TempDir()
	g := gwproc.Start(t, fmt.Sprintf("record: {enabled: true, dir: %q, segment_duration: 2s, part_duration: 500ms}\n", dir))
	clip := smallClip(t)
	push := g.Push(t, clip, "live/rec")
	g.WaitReady(t, "live/rec", 15*time.Second)

	// Wait until at least 3 segments exist (about 6 s of video), then
	// leave the publisher running so the console shows the stream.
	var rec struct {
		Segments []struct {
			Start    string  `json:"start"`
			Duration float64 `json:"duration"`
		} `json:"segments"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if getJSON(g.URL("/api/v1/recordings/live/rec"), &rec) == nil && len(rec.Segments) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 3 segments recorded: %+v", rec)
		}
		time.Sleep(200 * time.Millisecond)
	}

	var list struct {
		Items []string
		Link  string
	}
	browser(t, job{
		URL:     g.URL("/"),
		WaitFor: `document.querySelector('[data-path="live/rec"] a.rec-link')`,
		Actions: []map[string]any{
			click(`header nav a[href="/recordings/"]`),
			waitFor(`document.querySelector('#list .rec[data-path="live/rec"]')`),
			click(`header button.lang`), // the list in Chinese, at 420 px
			resize(phone),
			shot(shotPath(t, "recordings-list-zh-420.png")),
		},
		Evaluate: `JSON.stringify({items: [...document.querySelectorAll('#list .rec')].map(e => e.dataset.path),
			link: document.querySelector('#list .rec a.path').getAttribute('href')})`,
	}, &list)
	if !contains(list.Items, "live/rec") || list.Link != "?path=live%2Frec" {
		t.Fatalf("recordings list: %+v", list)
	}

	_ = push.Process.Kill() // the recording's last segment closes
	_ = push.Wait()
	waitGone(t, g, "live/rec")
	// A second run after a pause: the timeline must show the gap. The
	// pause is the condition under test, not a wait for an event.
	time.Sleep(3 * time.Second)
	push = g.Push(t, clip, "live/rec")
	g.WaitReady(t, "live/rec", 15*time.Second)
	n := len(rec.Segments)
	deadline = time.Now().Add(30 * time.Second)
	for getJSON(g.URL("/api/v1/recordings/live/rec"), &rec) != nil || len(rec.Segments) < n+2 {
		if time.Now().After(deadline) {
			t.Fatalf("the second run was not recorded: %+v", rec)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = push.Process.Kill() // now the API's count is final
	_ = push.Wait()
	waitGone(t, g, "live/rec")
	if err := getJSON(g.URL("/api/v1/recordings/live/rec"), &rec); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Bars, Segments   int
		Runs             int
		Time0, Time1     float64
		Frames0, Frames1 int
		Marker0, Marker1 string
		Src              string
	}
	browser(t, job{
		URL:     g.URL("/recordings/?path=live/rec"),
		WaitFor: `window.skyRecordings && skyRecordings.segments.length > 0 && document.querySelectorAll('#timeline .tl-seg').length > 0`,
		Actions: []map[string]any{
			click(`#timeline .tl-seg`), // the middle of the first bar: well inside the first run
			waitFor(`(() => { const v = document.getElementById('video'); return v.currentTime > 0.5 && v.getVideoPlaybackQuality().totalVideoFrames > 5 })()`),
			waitFor(`(window.__t0 = document.getElementById('video').currentTime, window.__f0 = document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames, window.__m0 = document.getElementById('tl-now').style.left, true)`),
			waitFor(`document.getElementById('video').currentTime > __t0 + 1`),
			shot(shotPath(t, "recordings-play.png")),
			resize(phone),
			shot(shotPath(t, "recordings-play-420.png")),
		},
		Evaluate: `JSON.stringify({bars: document.querySelectorAll('#timeline .tl-seg').length, segments: skyRecordings.segments.length, runs: skyRecordings.runs.length,
			time0: __t0, time1: document.getElementById('video').currentTime,
			frames0: __f0, frames1: document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames,
			marker0: __m0, marker1: document.getElementById('tl-now').style.left, src: document.getElementById('video').currentSrc})`,
	}, &out)
	if out.Bars != len(rec.Segments) || out.Segments != len(rec.Segments) {
		t.Errorf("timeline draws %d bars for %d segments; the API lists %d", out.Bars, out.Segments, len(rec.Segments))
	}
	if out.Runs != 2 {
		t.Errorf("timeline has %d runs of segments, want 2 (one gap)", out.Runs)
	}
	if out.Time1 <= out.Time0 || out.Frames1 <= out.Frames0 {
		t.Errorf("playback does not advance: time %v → %v, frames %d → %d", out.Time0, out.Time1, out.Frames0, out.Frames1)
	}
	if out.Marker0 == out.Marker1 || out.Marker1 == "" {
		t.Errorf("position marker did not move: %q → %q", out.Marker0, out.Marker1)
	}
	t.Logf("bars %d, time %.2f → %.2f s, frames %d → %d, src %s", out.Bars, out.Time0, out.Time1, out.Frames0, out.Frames1, out.Src)
}

// TestRecordingsShowRecordedOSD: a DJI camera recorded while its aircraft
// sends OSD (the simulated RC Plus 2) plays on the timeline with the
// recorded telemetry drawn over the picture.
func TestRecordingsShowRecordedOSD(t *testing.T) {
	g := gwproc.Start(t, fmt.Sprintf("record: {enabled: true, dir: %q, segment_duration: 2s, part_duration: 500ms}\n", t.TempDir()))
	devices(t, g, nil)
	res, err := http.Post(g.URL("/api/v1/live"), "application/json", strings.NewReader(`{"video_id":"`+rcCam+`","protocol":"rtmp"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("POST /api/v1/live: %d", res.StatusCode)
	}
	var rec struct {
		Segments []struct {
			DeviceSN string `json:"device_sn"`
		} `json:"segments"`
	}
	deadline := time.Now().Add(40 * time.Second)
	for getJSON(g.URL("/api/v1/recordings/"+rcCam), &rec) != nil || len(rec.Segments) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%s not recorded: %+v", rcCam, rec)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var out struct {
		OSD   string
		Lines int
		Meta  string
	}
	browser(t, job{
		URL:     g.URL("/recordings/?path=" + rcCam),
		WaitFor: `window.skyRecordings && document.querySelectorAll('#timeline .tl-seg').length > 0`,
		Actions: []map[string]any{
			click(`#timeline .tl-seg`),
			waitFor(`skyRecordings.osdLines > 0 && !document.getElementById('osd').hidden && document.getElementById('video').currentTime > 0.5`),
			shot(shotPath(t, "recordings-osd.png")),
		},
		Evaluate: `JSON.stringify({osd: document.getElementById('osd').textContent, lines: skyRecordings.osdLines, meta: document.getElementById('rec-meta').textContent})`,
	}, &out)
	if !strings.Contains(out.OSD, " m") || !strings.Contains(out.Meta, strings.SplitN(rcCam, "/", 2)[0]) {
		t.Errorf("recorded OSD %q (%d lines), meta %q", out.OSD, out.Lines, out.Meta)
	}
	t.Logf("osd %q from %d lines; %s", out.OSD, out.Lines, out.Meta)
}
