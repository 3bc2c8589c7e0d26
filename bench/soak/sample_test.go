package soak

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
)

// usage is the gateway's footprint at one instant.
type usage struct {
	at         time.Time
	rss, hwm   int64   // bytes (VmRSS, VmHWM)
	goroutines float64 // go_goroutines from /metrics
	threads    int     // /proc/PID/status Threads
	fds        int     // open file descriptors: sockets that leak show here
	cpu        time.Duration
}

func sample(t testing.TB, g *gwproc.Process) usage {
	u := g.Sample(t)
	s := usage{at: u.At, rss: u.RSS, hwm: u.HWM, cpu: u.CPU}
	gr, ok := g.Metric(t, "go_goroutines")
	if !ok {
		t.Fatal("no go_goroutines in the gateway's /metrics (cmd/skyrelay registers the Go collector)")
	}
	s.goroutines = gr
	pid := g.Cmd.Process.Pid
	if f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "Threads:"); ok {
				s.threads, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		f.Close()
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.fds = len(ents)
	}
	return s
}

func (s usage) String() string {
	return fmt.Sprintf("RSS %.1f MB (peak %.1f), goroutines %.0f, threads %d, fds %d, CPU %.1f s",
		float64(s.rss)/(1<<20), float64(s.hwm)/(1<<20), s.goroutines, s.threads, s.fds, s.cpu.Seconds())
}

// Flatness: the end figures, taken in the same state as the start ones
// (every publisher and viewer connected, after the warm-up), may exceed
// them by these factors plus a constant slack for what a short run
// cannot average out (a GC cycle, a WebRTC session still closing).
const (
	rssFactor       = 1.5
	rssSlack        = 16 << 20
	goroutineFactor = 1.2
	goroutineSlack  = 50
	fdFactor        = 1.2
	fdSlack         = 30
)

// flat lists what grew past the factors from start to end.
func flat(start, end usage) []string {
	var bad []string
	if lim := float64(start.rss)*rssFactor + rssSlack; float64(end.rss) > lim {
		bad = append(bad, fmt.Sprintf("RSS grew from %.1f to %.1f MB (limit %.1f)", float64(start.rss)/(1<<20), float64(end.rss)/(1<<20), lim/(1<<20)))
	}
	if lim := start.goroutines*goroutineFactor + goroutineSlack; end.goroutines > lim {
		bad = append(bad, fmt.Sprintf("goroutines grew from %.0f to %.0f (limit %.0f)", start.goroutines, end.goroutines, lim))
	}
	if lim := float64(start.fds)*fdFactor + fdSlack; float64(end.fds) > lim {
		bad = append(bad, fmt.Sprintf("file descriptors grew from %d to %d (limit %.0f)", start.fds, end.fds, lim))
	}
	return bad
}
