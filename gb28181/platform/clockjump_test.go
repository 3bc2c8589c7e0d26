package platform

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gb28181/gbsim"
	"github.com/skyrelay/skyrelay/ingest/rtsp"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestClockRestartKeepsStreamGoing: a device that loops a 2 s clip and
// starts its PS timestamps over at each pass (as an encoder looping its
// source does) is still read by ffprobe over RTSP for a 5 s time span, which
// it only finishes when the stream's clock follows real time; the hub's
// timestamps advance as much as the wall clock did.
func TestClockRestartKeepsStreamGoing(t *testing.T) {
	testpeer.Require(t, "ffprobe")
	ctx := testpeer.Context(t, 40*time.Second)
	p, hub := newPlatform(t, func(p *Platform) { p.Password = "pw-loop" })
	rs := &rtsp.Server{Address: "127.0.0.1:0", Hub: hub, Log: testLog(t)}
	if err := rs.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	const id = "34020000001320000031"
	d, err := gbsim.New(gbsim.Config{Server: "127.0.0.1:" + strconv.Itoa(p.SIPPort()), ServerID: p.ServerID,
		DeviceID: id, Password: "pw-loop", Clip: clip(t), ClipFrames: 50, RestartClock: true, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if err := d.Register(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := p.Invite(ctx, id, id, "udp")
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.WaitReady(ctx, s.Path); err != nil {
		t.Fatal(err)
	}
	st, err := hub.Read(ctx, s.Path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var first, last int64
	var firstAt, lastAt time.Time
	r := &gateway.Reader{Protocol: "test", Handle: func(f gateway.Frame) error {
		if f.Backlog || !f.Track.Codec.IsVideo() {
			return nil
		}
		mu.Lock()
		if firstAt.IsZero() {
			first, firstAt = f.Unit.PTS, time.Now()
		}
		last, lastAt = f.Unit.PTS, time.Now()
		mu.Unlock()
		return nil
	}}
	if err := st.AddReader(r); err != nil {
		t.Fatal(err)
	}

	res := testpeer.FFprobe(t, ctx, "rtsp://"+rs.Addr().String()+"/"+s.Path, "-rtsp_transport", "tcp", "-read_intervals", "%+5")
	v, ok := res.Video()
	if !ok || v.Codec != "h264" || v.Packets < 100 {
		t.Fatalf("ffprobe over 5 s of a looping clip: %+v\n%s", v, res.JSON)
	}
	mu.Lock()
	media := time.Duration(last-first) * time.Second / 90000
	wall := lastAt.Sub(firstAt)
	mu.Unlock()
	if wall < 4*time.Second || media < wall*8/10 || media > wall*12/10 {
		t.Fatalf("stream time advanced %v in %v of real time: the clock froze or leapt", media, wall)
	}
	t.Logf("ffprobe read %d packets; stream time %v over %v of real time", v.Packets, media, wall)
}
