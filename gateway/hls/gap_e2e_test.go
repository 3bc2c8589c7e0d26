package hls

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway/hls/hlstest"
)

var partTarget = regexp.MustCompile(`#EXT-X-PART-INF:PART-TARGET=([0-9.]+)`)

// TestPublisherOutageKeepsPartTarget: a publisher of video and AAC drops
// for 1.5 s and comes back within the grace period, as a dock on a
// cellular link does. The media playlist's part target duration must not
// change (Safari stops on a change), and the playlist keeps growing.
// Without the gap closer the outage lands in one part and the target
// jumps from about 0.2 s to about 1.7 s.
func TestPublisherOutageKeepsPartTarget(t *testing.T) {
	e := newEnv(t, 10*time.Second, time.Minute)
	p := hlstest.PublishAV(t, e.hub, "live/gap", hlstest.H264Clip(t, 320, 240, 30, 4), hlstest.AAC(t, 4))

	media := mediaPlaylist(t, e.base+"/live/gap/index.m3u8")
	read := func() (target string, segments int) {
		_, pl := get(t, e.base+"/live/gap/"+media)
		m := partTarget.FindSubmatch(pl)
		if m == nil {
			t.Fatalf("no part target in\n%s", pl)
		}
		n := 0
		if s := mediaSeq.FindSubmatch(pl); s != nil {
			n, _ = strconv.Atoi(string(s[1]))
		}
		return string(m[1]), n + len(extinf.FindAll(pl, -1))
	}
	// The target settles once the first segment is complete.
	want, seen := read()
	for tick := time.NewTicker(100 * time.Millisecond); seen < 2; <-tick.C {
		want, seen = read()
	}

	p.Stop()
	time.Sleep(1500 * time.Millisecond) // the outage itself, not a wait for an event
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	// Watch until three segments made after the outage are listed: the one
	// that holds the outage's part is then well inside the window.
	targets := map[string]int{}
	for tick, end := time.NewTicker(100*time.Millisecond), seen+4; ; <-tick.C {
		target, segments := read()
		targets[target]++
		if segments >= end {
			break
		}
	}
	if len(targets) != 1 || targets[want] == 0 {
		t.Fatalf("part target was %s before the outage; after it the playlist said %v", want, targets)
	}
	if v, _ := strconv.ParseFloat(want, 64); v > 0.5 {
		t.Fatalf("part target %s s for 200 ms parts", want)
	}
}

// mediaPlaylist returns the media playlist the multivariant one names first.
func mediaPlaylist(t *testing.T, url string) string {
	t.Helper()
	_, master := get(t, url)
	for _, l := range strings.Split(string(master), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			return strings.TrimSpace(l)
		}
	}
	t.Fatalf("no media playlist in\n%s", master)
	return ""
}
