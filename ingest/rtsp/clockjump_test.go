package rtsp

import (
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestPublisherClockRestart: an RTSP publisher (gortsplib's client) loops a
// 2 s clip in real time with its RTP timestamps starting over at each pass,
// as an encoder that restarts on the same connection does. ffprobe reads a
// 5 s time span back over RTSP, which it only finishes when the stream's
// clock follows real time, and the hub's timestamps advance as the wall
// clock does.
func TestPublisherClockRestart(t *testing.T) {
	testpeer.Require(t, "ffprobe")
	e := newEnv(t, 0)
	clip := hlstestClip(t)
	const passFrames = 50
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{f}}}}
	c := &gortsplib.Client{}
	if err := c.StartRecording(e.url("live/loop"), desc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	enc, err := f.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		start := time.Now()
		for i := 0; ; i++ {
			au := clip.AUs[i%passFrames]
			pkts, err := enc.Encode(au)
			if err != nil {
				t.Error(err)
				return
			}
			for _, pkt := range pkts {
				pkt.Timestamp = 90000 + uint32(i%passFrames)*3600 // starts over every pass
				if err := c.WritePacketRTP(desc.Medias[0], pkt); err != nil {
					return
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Until(start.Add(time.Duration(i+1) * 40 * time.Millisecond))):
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })

	s := e.waitReady(t, "live/loop", 10*time.Second)
	clock := watchClock(t, s)
	ctx := testpeer.Context(t, 30*time.Second)
	res := testpeer.FFprobe(t, ctx, e.url("live/loop"), "-rtsp_transport", "tcp", "-read_intervals", "%+5")
	if v, ok := res.Video(); !ok || v.Codec != "h264" || v.Packets < 100 {
		t.Fatalf("ffprobe over 5 s of a looping clip: %+v\n%s", v, res.JSON)
	}
	clock.check(t, 4*time.Second)
}

// streamClock follows a stream's video timestamps against the wall clock.
type streamClock struct {
	mu              sync.Mutex
	first, last     int64
	firstAt, lastAt time.Time
}

func watchClock(t *testing.T, s *gateway.Stream) *streamClock {
	t.Helper()
	c := &streamClock{}
	r := &gateway.Reader{Protocol: "test", SkipRTP: true, Handle: func(f gateway.Frame) error {
		if f.Backlog || !f.Track.Codec.IsVideo() {
			return nil
		}
		c.mu.Lock()
		if c.firstAt.IsZero() {
			c.first, c.firstAt = f.Unit.PTS, time.Now()
		}
		c.last, c.lastAt = f.Unit.PTS, time.Now()
		c.mu.Unlock()
		return nil
	}}
	if err := s.AddReader(r); err != nil {
		t.Fatal(err)
	}
	return c
}

// check fails unless, over at least minWall, stream time advanced as the
// wall clock did (within 20 %).
func (c *streamClock) check(t *testing.T, minWall time.Duration) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	media := time.Duration(c.last-c.first) * time.Second / 90000
	wall := c.lastAt.Sub(c.firstAt)
	if wall < minWall || media < wall*8/10 || media > wall*12/10 {
		t.Fatalf("stream time advanced %v in %v of real time: the clock froze or leapt", media, wall)
	}
	t.Logf("stream time %v over %v of real time", media, wall)
}
