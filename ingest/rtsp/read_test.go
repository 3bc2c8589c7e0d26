package rtsp

import (
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	h264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/hls/hlstest"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// readFFmpeg starts ffmpeg reading url and printing its frame count twice
// a second; it neither decodes nor writes anything.
func readFFmpeg(t testing.TB, url, transport string) *testpeer.Proc {
	t.Helper()
	return testpeer.Start(t, "ffmpeg", "-hide_banner", "-nostats", "-loglevel", "warning",
		"-rtsp_transport", transport, "-i", url, "-map", "0:v", "-c", "copy", "-f", "null",
		"-progress", "pipe:1", "-stats_period", "0.5", "-")
}

// An RTSP reader is listed as a reader of the stream (API, metrics), its
// bytes count, the packets the core shares are left untouched, and the
// sink and ServerStream go away with the last reader.
func TestReaderAccounting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	publishCore(t, e, "live/acc", hlstestClip(t), false)
	s := e.waitReady(t, "live/acc", 10*time.Second)

	// Another reader of the same stream checks, in its own goroutine, that
	// nobody changes the shared packets (the race detector would also see
	// a write): the SSRC of the core's packets stays what it was.
	var mu sync.Mutex
	ssrc, changed := map[*gateway.Track]uint32{}, 0
	watcher := &gateway.Reader{Protocol: "test", Handle: func(f gateway.Frame) error {
		if f.Backlog {
			return nil // a replayed GOP is packetised for this reader alone
		}
		mu.Lock()
		defer mu.Unlock()
		for _, p := range f.Unit.RTP {
			if v, ok := ssrc[f.Track]; ok && v != p.SSRC {
				changed++
			}
			ssrc[f.Track] = p.SSRC
		}
		return nil
	}}
	if err := s.AddReader(watcher); err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()

	p := readFFmpeg(t, e.url("live/acc"), "tcp")
	testpeer.Eventually(t, 15*time.Second, "ffmpeg to read frames", func() bool { return frames(p) > 10 })
	info := s.Info()
	var rtspReaders []gateway.ReaderInfo
	for _, r := range info.Readers {
		if r.Protocol == "rtsp" {
			rtspReaders = append(rtspReaders, r)
		}
	}
	if len(rtspReaders) != 1 || rtspReaders[0].RemoteAddr == "" {
		t.Fatalf("readers %+v, want one rtsp reader with its address", info.Readers)
	}
	testpeer.Eventually(t, 5*time.Second, "bytes_sent to count the RTSP reader", func() bool { return s.BytesSent() > 10000 })
	if e.outputs() != 1 {
		t.Fatalf("%d outputs, want 1", e.outputs())
	}
	if err := p.Stop(); err != nil {
		t.Logf("ffmpeg: %v", err)
	}
	testpeer.Eventually(t, 5*time.Second, "the reader and the output to go", func() bool { return readerCount(s) == 0 && e.outputs() == 0 })
	mu.Lock()
	defer mu.Unlock()
	if changed != 0 {
		t.Fatalf("the SSRC of %d shared packets changed", changed)
	}
}

// A publisher that drops and comes back within the grace period keeps an
// RTSP reader: ffmpeg reading the stream goes on counting frames.
func TestPublisherRestartKeepsReader(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 8*time.Second)
	clip := testpeer.Clip(t, testpeer.ClipH264Small)
	pub := push(t, clip, "tcp", e.url("live/restart"))
	s := e.waitReady(t, "live/restart", 15*time.Second)

	r := readFFmpeg(t, e.url("live/restart"), "tcp")
	testpeer.Eventually(t, 15*time.Second, "the reader to count frames", func() bool { return frames(r) > 25 })

	_ = pub.Kill() // a crash: no TEARDOWN
	testpeer.Eventually(t, 5*time.Second, "the publisher to be gone", func() bool { _, on := s.Source(); return !on })
	before := frames(r)
	push(t, clip, "tcp", e.url("live/restart"))
	testpeer.Eventually(t, 20*time.Second, "frames after the restart", func() bool { return frames(r) > before+50 })
	select {
	case <-r.Exited():
		t.Fatal("the reader ended")
	default:
	}
	if e.hub.Stream("live/restart") != s || s.Info().Reconnects != 1 {
		t.Fatalf("the stream was not continued (reconnects %d)", s.Info().Reconnects)
	}
	t.Logf("reader frames: %d before the restart, %d after", before, frames(r))
}

// DESCRIBE carries the parameter sets the stream has now: those learnt in
// band, and new ones after a publisher came back with another resolution.
func TestDescribeCurrentParams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 10*time.Second)
	small := hlstestClip(t)
	p1 := publishCore(t, e, "live/params", small, false)
	e.waitReady(t, "live/params", 10*time.Second)
	if w, h := describeSize(t, e, "live/params"); w != 320 || h != 240 {
		t.Fatalf("DESCRIBE says %dx%d, want 320x240", w, h)
	}

	p1.Stop()
	p2 := &hlstest.Publisher{Hub: e.hub, Path: "live/params", Clip: hlstest.H264Clip(t, 480, 272, 25, 2)}
	if err := p2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p2.Stop)
	testpeer.Eventually(t, 10*time.Second, "DESCRIBE to show 480x272", func() bool {
		w, h := describeSize(t, e, "live/params")
		return w == 480 && h == 272
	})
}

// describeSize DESCRIBEs path with gortsplib's client and reads the
// picture size from the SPS in the SDP.
func describeSize(t testing.TB, e *env, path string) (int, int) {
	t.Helper()
	u, err := base.ParseURL(e.url(path))
	if err != nil {
		t.Fatal(err)
	}
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	desc, _, err := c.Describe(u)
	if err != nil {
		t.Fatal(err)
	}
	var f *format.H264
	if desc.FindFormat(&f) == nil {
		t.Fatalf("no H.264 in %+v", desc)
	}
	sps, _ := f.SafeParams()
	var s h264.SPS
	if err := s.Unmarshal(sps); err != nil {
		t.Fatalf("SPS in the SDP: %v", err)
	}
	return s.Width(), s.Height()
}

// A path with nothing on it answers 404 at once; a path whose stream does
// not become playable answers 503 after StartTimeout.
func TestReadMissing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, func(s *Server) { s.StartTimeout = 500 * time.Millisecond })
	res := rawRequest(t, e, "DESCRIBE "+e.url("live/none")+" RTSP/1.0\r\nCSeq: 1\r\n\r\n")
	if !hasStatus(res, "404") {
		t.Fatalf("DESCRIBE of a missing path: %q", res)
	}
	// Published but no keyframe yet: not playable.
	tr, _ := gateway.TrackFor(&format.H264{PayloadTyp: 96, PacketizationMode: 1})
	pub, err := e.hub.Publish("live/notyet", gateway.SourceInfo{Protocol: "test"}, []*gateway.Track{tr})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	start := time.Now()
	res = rawRequest(t, e, "DESCRIBE "+e.url("live/notyet")+" RTSP/1.0\r\nCSeq: 1\r\n\r\n")
	if !hasStatus(res, "503") || time.Since(start) < 400*time.Millisecond {
		t.Fatalf("DESCRIBE of a stream that is not playable: %q after %v", res, time.Since(start))
	}
	ctx := testpeer.Context(t, 10*time.Second)
	if _, err := testpeer.ProbeURL(ctx, e.url("live/none"), "-rtsp_transport", "tcp"); err == nil {
		t.Fatal("ffprobe read a missing path")
	}
}
