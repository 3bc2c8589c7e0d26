package platform

import (
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/ingest/rtsp"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestSIPpOnDemand: SIPp plays a third-party device (device.xml and
// device_ooc.xml) that registers and reports two channels. ffprobe opening
// gb28181/{device}/{channel} over RTSP makes the platform INVITE it on
// demand; SIPp answers, the test sends PS from ffmpeg (-f vob) to the media
// port the platform offered, ffprobe reads the stream; once it left,
// IdleStopAfter later the platform sends BYE (answered by the scenario)
// and SIPp unregisters.
func TestSIPpOnDemand(t *testing.T) {
	testpeer.Require(t, "sipp", "ffprobe")
	vob, _ := psFixtures(t)
	ps, err := os.ReadFile(vob)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testpeer.Context(t, 40*time.Second)
	const dev, ch1, ch2, pw = "34020000001320000079", "34020000001310000011", "34020000001310000012", "sipp-Demand3"
	p, hub := newPlatform(t, func(p *Platform) { p.Password = pw; p.IdleStopAfter = 500 * time.Millisecond })
	hub.OnDemand = p.StartOnDemand
	rs := &rtsp.Server{Address: "127.0.0.1:0", Hub: hub, Log: testLog(t)}
	if err := rs.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	local := testpeer.FreeUDPPort(t)
	sipp := testpeer.Start(t, "sipp", "127.0.0.1:"+strconv.Itoa(p.SIPPort()),
		"-sf", "testdata/device.xml", "-oocsf", "testdata/device_ooc.xml", "-m", "1", "-t", "u1",
		"-i", "127.0.0.1", "-p", strconv.Itoa(local), "-au", dev, "-ap", pw,
		"-key", "device", dev, "-key", "server", p.ServerID, "-key", "domain", p.Domain, "-d", "10000",
		"-key", "ch1", ch1, "-key", "ch2", ch2, "-nostdin", "-timeout", "35s", "-timeout_error")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sipp:\n%s", sipp.Output())
		}
	})
	waitFor(ctx, t, "the catalog", func() bool { d, ok := p.Device(dev); return ok && len(d.Channels) == 2 })

	path := ChannelPath(dev, ch2)
	type result struct {
		res testpeer.ProbeResult
		err error
	}
	probed := make(chan result, 1)
	go func() {
		r, err := testpeer.ProbeURL(ctx, "rtsp://"+rs.Addr().String()+"/"+path, "-rtsp_transport", "tcp", "-read_intervals", "%+#25")
		probed <- result{r, err}
	}()
	waitFor(ctx, t, "the on-demand INVITE", func() bool { return len(p.Sessions()) == 1 })
	s := p.Sessions()[0]
	if s.Path != path || s.ChannelID != ch2 {
		t.Fatalf("session %+v, want %s", s, path)
	}
	ssrc, _ := strconv.ParseUint(s.SSRC, 10, 32)
	tx := newPSSender(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(s.LocalPort)), uint32(ssrc))
	stop := make(chan struct{})
	looped := tx.loop(ps, stop)
	r := <-probed
	close(stop)
	if l := <-looped; l.err != nil {
		t.Fatal(l.err)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if v, ok := r.res.Video(); !ok || v.Codec != "h264" || v.Width != 320 || v.Packets < 25 {
		t.Fatalf("ffprobe on demand: %+v", v)
	}
	waitFor(ctx, t, "the idle stop", func() bool { return len(p.Sessions()) == 0 })
	if err := sipp.Wait(ctx); err != nil {
		t.Fatalf("sipp: %v\n%s", err, sipp.Output())
	}
}
