package soak

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// These run in make test: the soak's own logic, without a gateway.

func TestFlat(t *testing.T) {
	start := usage{rss: 100 << 20, goroutines: 500, fds: 100}
	for _, c := range []struct {
		name string
		end  usage
		bad  int
	}{
		{"unchanged", start, 0},
		{"within the factors", usage{rss: 160 << 20, goroutines: 640, fds: 145}, 0},
		{"RSS leak", usage{rss: 170 << 20, goroutines: 500, fds: 100}, 1},
		{"goroutine leak", usage{rss: 100 << 20, goroutines: 700, fds: 100}, 1},
		{"socket leak", usage{rss: 100 << 20, goroutines: 500, fds: 200}, 1},
		{"everything", usage{rss: 1 << 30, goroutines: 5000, fds: 5000}, 3},
	} {
		if got := flat(start, c.end); len(got) != c.bad {
			t.Errorf("%s: %d complaints %v, want %d", c.name, len(got), got, c.bad)
		}
	}
}

func TestNewestSegment(t *testing.T) {
	for pl, want := range map[string]string{
		"#EXTM3U\n#EXTINF:1,\nseg1.mp4\n#EXTINF:1,\nseg2.mp4\n#EXT-X-PART:DURATION=0.2,URI=\"p.mp4\"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"q.mp4\"\n": "seg2.mp4",
		"#EXTM3U\n#EXT-X-VERSION:9\n":     "",
		"":                                "",
		"#EXTM3U\r\nseg9.mp4?x=1\r\n\r\n": "seg9.mp4?x=1",
	} {
		if got := newestSegment([]byte(pl)); got != want {
			t.Errorf("newestSegment(%q) = %q, want %q", pl, got, want)
		}
	}
}

func TestSpan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := span{time.Second, 2 * time.Second}
	for range 1000 {
		if d := s.pick(r); d < s.lo || d >= s.hi {
			t.Fatalf("pick = %v outside [%v, %v)", d, s.lo, s.hi)
		}
	}
	if d := (span{time.Second, time.Second}).pick(r); d != time.Second {
		t.Fatalf("empty span picked %v", d)
	}
}

// A peer holds through the warm-up, lets go after its hold during the
// churn, keeps its connection once the churn is over, and notices a
// connection that ended under it.
func TestPhaseHold(t *testing.T) {
	begin, settle := make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ph := phase{begin: begin, settle: settle, stop: ctx}
	ended := make(chan struct{})

	got := make(chan bool)
	go func() { got <- ph.hold(time.Millisecond, nil) }()
	select {
	case <-got:
		t.Fatal("hold returned during the warm-up")
	case <-time.After(50 * time.Millisecond):
	}
	close(begin)
	if keep := <-got; keep {
		t.Fatal("during the churn a hold must end in a disconnect")
	}
	close(ended)
	if keep := ph.hold(time.Hour, ended); keep {
		t.Fatal("an ended connection cannot be kept")
	}
	close(settle)
	if keep := ph.hold(time.Hour, nil); !keep || !ph.settled() {
		t.Fatal("after the churn a peer keeps its connection")
	}
	if !ph.away(time.Hour) {
		t.Fatal("away must end at once after the churn, the run still going")
	}
	cancel()
	if ph.backoff(time.Hour) {
		t.Fatal("backoff must report the stop")
	}
}

// deadPictures names a viewer that is connected and receives nothing, and
// only that one.
func TestDeadPictures(t *testing.T) {
	mk := func(name string, up bool) *viewer {
		v := &viewer{peer: &peer{name: name}}
		v.path.Store("soak/s00")
		v.up.Store(up)
		return v
	}
	dead, gone, live := mk("dead", true), mk("gone", false), mk("live", true)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				live.media.Add(1)
			}
		}
	}()
	got := deadPictures([]*viewer{dead, gone, live}, 300*time.Millisecond)
	if len(got) != 1 || got[0] != "dead on soak/s00" {
		t.Fatalf("deadPictures = %q, want only the connected viewer that received nothing", got)
	}
}
