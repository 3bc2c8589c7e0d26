package rtsp

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// cpuTime is the CPU time (user + system) this process used so far.
func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReaderCPU measures what one RTSP reader costs Skyrelay: ffmpeg
// publishes the 720p30 clip (3 Mbit/s H.264 + AAC) over RTSP/TCP, then
// nReaders ffmpeg processes read it (copying, not decoding) over TCP and
// then over UDP. The figure is the process's extra CPU time per reader per
// second of stream, over the CPU time of the same stream with no reader.
//
//	go test -run '^$' -bench ReaderCPU -benchtime 1x ./ingest/rtsp
func BenchmarkReaderCPU(b *testing.B) {
	const (
		nReaders = 10
		window   = 8 * time.Second
	)
	clip := testpeer.Clip(b, testpeer.ClipH264720p30)
	e := newEnv(b, 0)
	push(b, clip, "tcp", e.url("live/bench"))
	s := e.waitReady(b, "live/bench", 20*time.Second)

	measure := func() (cpu time.Duration, bytesOut uint64) {
		c0, o0 := cpuTime(b), s.BytesSent()
		time.Sleep(window) // a measurement window, not synchronisation
		return cpuTime(b) - c0, s.BytesSent() - o0
	}
	time.Sleep(2 * time.Second) // warm-up
	base, _ := measure()
	b.ReportMetric(float64(base)/float64(window)*100, "cpu-%/0-readers")

	for _, transport := range []string{"tcp", "udp"} {
		var procs []*testpeer.Proc
		for range nReaders {
			procs = append(procs, readFFmpeg(b, e.url("live/bench"), transport))
		}
		for i, p := range procs {
			testpeer.Eventually(b, 20*time.Second, "reader "+strconv.Itoa(i)+" to read", func() bool { return frames(p) > 0 })
		}
		time.Sleep(2 * time.Second) // warm-up
		cpu, out := measure()
		per := float64(cpu-base) / float64(window) / nReaders
		b.ReportMetric(per*100, "cpu-%/reader-"+transport)
		b.ReportMetric(float64(out)*8/window.Seconds()/nReaders/1e6, "Mbit/s/reader-"+transport)
		b.Logf("%s: %d readers, %.2f%% of a core each (%.1f ms of CPU per reader-second); %.2f%% with no reader",
			transport, nReaders, per*100, per*1000, float64(base)/float64(window)*100)
		for _, p := range procs {
			_ = p.Stop()
		}
		testpeer.Eventually(b, 10*time.Second, "the readers to leave", func() bool { return readerCount(s) == 0 })
	}
}
