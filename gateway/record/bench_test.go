package record

import (
	"fmt"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/ingest/rtmp"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// captured is a clip as the stream core delivered it: its tracks' formats
// and every unit, to publish again without ffmpeg in the way.
type captured struct {
	h264  *format.H264
	aac   *format.MPEG4Audio
	units []capUnit
	bytes int64 // payload bytes: what ingest received, minus FLV framing
	secs  float64
}

type capUnit struct {
	track   int
	pts     int64
	payload [][]byte
}

// capture pushes clip once through RTMP into a stream core and keeps
// every unit a reader gets.
func capture(b *testing.B, clip string) *captured {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := gateway.NewHub(0, log)
	defer hub.Close()
	srv := &rtmp.Server{Address: "127.0.0.1:0", Hub: hub, Auth: &authz.Auth{}, Log: log}
	if err := srv.Initialize(); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c := &captured{}
	var mu sync.Mutex
	attached := make(chan *gateway.Reader, 1)
	hub.OnEvent = func(e gateway.Event) {
		if e.Kind != gateway.EventReady {
			return
		}
		s := hub.Stream(e.Path)
		for _, t := range s.Tracks() {
			switch f := t.Format.(type) {
			case *format.H264:
				c.h264 = f
			case *format.MPEG4Audio:
				c.aac = f
			}
		}
		r := &gateway.Reader{Protocol: "capture", SkipRTP: true, QueueSize: 1 << 16, Handle: func(f gateway.Frame) error {
			mu.Lock()
			defer mu.Unlock()
			c.units = append(c.units, capUnit{track: f.Track.Index, pts: f.Unit.PTS, payload: f.Unit.Payload})
			for _, p := range f.Unit.Payload {
				c.bytes += int64(len(p))
			}
			if f.Track.Codec.IsVideo() {
				c.secs = float64(f.Unit.PTS) / 90000
			}
			return nil
		}}
		if s.AddReader(r) == nil {
			attached <- r
		}
	}
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", clip, "-c", "copy", "-f", "flv", "rtmp://"+srv.Addr().String()+"/cap").CombinedOutput()
	if err != nil {
		b.Fatalf("ffmpeg: %v %s", err, out)
	}
	r := <-attached
	<-r.Done()
	if r.Dropped() > 0 || c.h264 == nil || c.aac == nil {
		b.Fatalf("capture: dropped %d, tracks %v %v", r.Dropped(), c.h264, c.aac)
	}
	return c
}

// publishAll plays c on n paths of hub at speed times real time and
// returns when every unit is written.
func (c *captured) publishAll(b *testing.B, hub *gateway.Hub, n int, speed float64) {
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		vt, _ := gateway.TrackFor(&format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: c.h264.SPS, PPS: c.h264.PPS})
		cfg := *c.aac.Config
		at, _ := gateway.TrackFor(&format.MPEG4Audio{PayloadTyp: 97, Config: &cfg, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3})
		pub, err := hub.Publish(fmt.Sprintf("bench/s%d", i), gateway.SourceInfo{Protocol: "bench"}, []*gateway.Track{vt, at})
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer pub.Close()
			for _, u := range c.units {
				rate := 90000.0
				if u.track == 1 {
					rate = float64(cfg.SampleRate)
				}
				time.Sleep(time.Until(start.Add(time.Duration(float64(u.pts) / rate / speed * float64(time.Second)))))
				pub.WriteUnit(u.track, u.pts, u.payload)
			}
		}()
	}
	wg.Wait()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecord30: 30 streams of the 3 Mbit/s clip published at 4x real
// time into the stream core, once without and once with recording; the
// difference in process CPU per stream-second is what recording costs on
// top of ingest. Also: bytes written per payload byte received.
func BenchmarkRecord30(b *testing.B) {
	testpeer.Require(b, "ffmpeg")
	c := capture(b, testpeer.Clip(b, testpeer.ClipH264720p30))
	const n, speed = 30, 4.0
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var ingest, withRec time.Duration
	var written uint64
	var dropped uint64
	for i := 0; i < b.N; i++ {
		hub := gateway.NewHub(0, log)
		t0 := cpuTime()
		c.publishAll(b, hub, n, speed)
		ingest += cpuTime() - t0
		hub.Close()

		hub = gateway.NewHub(0, log)
		rec := &Recorder{Hub: hub, Log: log, Enabled: true, Paths: []string{"**"}, Dir: b.TempDir(), SegmentDuration: time.Hour, PartDuration: time.Second}
		if err := rec.Initialize(); err != nil {
			b.Fatal(err)
		}
		hub.OnEvent = func(e gateway.Event) { rec.StreamEvent(e.Path, string(e.Kind)) }
		var readers []*gateway.Reader
		t0 = cpuTime()
		c.publishAll(b, hub, n, speed)
		rec.mu.Lock()
		for _, p := range rec.recs {
			readers = append(readers, p.reader)
		}
		rec.mu.Unlock()
		rec.Close()
		withRec += cpuTime() - t0
		for _, r := range readers {
			dropped += r.Dropped()
		}
		written += rec.metrics.bytesWritten.Load()
		hub.Close()
	}
	streamSecs := c.secs * n * float64(b.N)
	floor := writeFloor(b, int64(written))
	b.ReportMetric((withRec-ingest).Seconds()/streamSecs, "rec-cpu-s/stream-s")
	b.ReportMetric(floor.Seconds()/streamSecs, "plain-write-cpu-s/stream-s")
	b.ReportMetric(ingest.Seconds()/streamSecs, "ingest-cpu-s/stream-s")
	b.ReportMetric(float64(written)/float64(c.bytes*n*int64(b.N)), "written/received")
	b.ReportMetric(float64(dropped), "frames-dropped")
}

// writeFloor is the CPU the kernel takes to write n bytes to a file in
// the same kind of folder with plain 384 KiB write() calls (about one
// part of a 3 Mbit/s stream): what any recorder pays for the disk, the
// floor under rec-cpu-s/stream-s.
func writeFloor(b *testing.B, n int64) time.Duration {
	f, err := os.Create(b.TempDir() + "/floor")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 384<<10)
	t0 := cpuTime()
	for left := n; left > 0; left -= int64(len(buf)) {
		if _, err := f.Write(buf[:min(int64(len(buf)), left)]); err != nil {
			b.Fatal(err)
		}
	}
	return cpuTime() - t0
}

// hourSegment writes a one-hour segment of the 3 Mbit/s clip's shape as
// the recorder lays it out: a part per second starting on a keyframe, 30
// video samples of 12.5 KB and 43 AAC samples, 1.4 GB in all. The sample
// bytes are holes (a sparse file): serving reads them only when sent, and
// what the first byte waits for is the parts' moofs.
func hourSegment(b *testing.B, dir string, start time.Time) {
	var buf seekablebuffer.Buffer
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{
		{ID: 1, TimeScale: 90000, Codec: &codecs.H264{SPS: testSPS, PPS: testPPS}},
		{ID: 2, TimeScale: 44100, Codec: &codecs.MPEG4Audio{Config: mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 44100, ChannelCount: 1}}},
	}}
	if err := init.Marshal(&buf); err != nil {
		b.Fatal(err)
	}
	file := segmentFile(dir, "bench/hour", start, "b0b0")
	if err := os.MkdirAll(filepathDir(file), 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(buf.Bytes()); err != nil {
		b.Fatal(err)
	}
	var hdr []byte
	for p := 0; p < 3600; p++ {
		var v, a []*mp4Sample
		for i := 0; i < 30; i++ {
			v = append(v, &mp4Sample{dur: 3000, nonSync: i > 0, size: 12500})
		}
		for i := 0; i < 43; i++ {
			a = append(a, &mp4Sample{dur: 1024, size: 372})
		}
		var n int
		hdr, n = appendPart(hdr[:0], uint32(p), []partTrackOut{{id: 1, base: uint64(p) * 90000, samples: v}, {id: 2, base: uint64(p) * 44100, samples: a}})
		if _, err := f.Write(hdr); err != nil {
			b.Fatal(err)
		}
		if _, err := f.Seek(int64(n), io.SeekCurrent); err != nil {
			b.Fatal(err)
		}
	}
	size := mustSeek(b, f)
	if err := f.Truncate(size); err != nil {
		b.Fatal(err)
	}
	// The part table the writer leaves at close.
	s, err := scanSegment(f, size)
	if err != nil || len(s.parts) != 3600 {
		b.Fatalf("hour segment: %v", err)
	}
	if err := writeIdx(file, size, s.parts); err != nil {
		b.Fatal(err)
	}
}

func mustSeek(b *testing.B, f *os.File) int64 {
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		b.Fatal(err)
	}
	return off
}

// BenchmarkRangeFirstByte: the time from asking for a one-hour range to
// its first byte, on a fresh index (the segment's parts not scanned yet)
// and again (scanned).
func BenchmarkRangeFirstByte(b *testing.B) {
	dir := b.TempDir()
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	hourSegment(b, dir, start)
	u := "/api/v1/recordings/bench/hour/mp4?start=" + url.QueryEscape(start.Format(time.RFC3339)) + "&duration=3600"
	// Each round is a fresh recorder (nothing cached), asked twice; the
	// median of 7 rounds keeps other work on the machine out of it. Then
	// the same without the part table (a segment cut by a crash).
	first := func(noIdx bool) (cold, warm []time.Duration) {
		for i := 0; i < b.N*7; i++ {
			rec := &Recorder{Dir: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if err := rec.Initialize(); err != nil {
				b.Fatal(err)
			}
			if noIdx {
				idx, _ := filepath.Glob(dir + "/bench/hour/*/*" + idxExt)
				for _, f := range idx {
					_ = os.Remove(f)
				}
			}
			srv := httptest.NewServer(rec.Handler())
			for k := 0; k < 2; k++ {
				t0 := time.Now()
				resp, err := http.Get(srv.URL + u)
				if err != nil {
					b.Fatal(err)
				}
				one := make([]byte, 1)
				if _, err := io.ReadFull(resp.Body, one); err != nil || resp.StatusCode != 200 {
					b.Fatalf("%d %v", resp.StatusCode, err)
				}
				d := time.Since(t0)
				if k == 0 {
					cold = append(cold, d)
				} else {
					warm = append(warm, d)
				}
				resp.Body.Close() // the rest is not what is measured
			}
			srv.Close()
			rec.Close()
		}
		slices.Sort(cold)
		slices.Sort(warm)
		return cold, warm
	}
	cold, warm := first(false)
	walk, _ := first(true)
	b.ReportMetric(float64(walk[len(walk)/2].Microseconds())/1000, "first-byte-no-idx-ms")
	b.ReportMetric(float64(cold[len(cold)/2].Microseconds())/1000, "first-byte-ms")
	b.ReportMetric(float64(cold[len(cold)-1].Microseconds())/1000, "first-byte-max-ms")
	b.ReportMetric(float64(warm[len(warm)/2].Microseconds())/1000, "first-byte-warm-ms")
}

func filepathDir(f string) string {
	for i := len(f) - 1; i >= 0; i-- {
		if f[i] == '/' {
			return f[:i]
		}
	}
	return "."
}
