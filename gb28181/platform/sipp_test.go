package platform

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/ingest/rtsp"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// psFixtures makes PS files with tools nobody here wrote: ffmpeg's -f vob
// (no PSM, H.264 on stream 0xE2) and GStreamer's mpegpsmux (PSM with a
// descriptor), 2 s of 320x240 at 25 fps, 50 pictures each.
func psFixtures(t *testing.T) (vob, gst string) {
	t.Helper()
	testpeer.Require(t, "ffmpeg", "gst-launch-1.0")
	dir := t.TempDir()
	mp4, vob, gst := filepath.Join(dir, "clip.mp4"), filepath.Join(dir, "ffmpeg.ps"), filepath.Join(dir, "gst.ps")
	src := []string{"-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2",
		"-c:v", "libx264", "-bf", "0", "-g", "25", "-pix_fmt", "yuv420p"}
	for _, args := range [][]string{append(src, "-f", "vob", vob), append(src, mp4)} {
		if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
	}
	out, err := exec.Command("gst-launch-1.0", "-q", "filesrc", "location="+mp4, "!", "qtdemux", "!", "h264parse", "!",
		"mpegpsmux", "!", "filesink", "location="+gst).CombinedOutput()
	if err != nil {
		t.Fatalf("gst-launch-1.0: %v\n%s", err, out)
	}
	return vob, gst
}

// psSender sends PS files to a media port as RTP over UDP, 1400 bytes of
// PS per packet, cut with no regard for pack or PES boundaries (devices do
// the same). Sequence numbers and RTP timestamps run on from one file to
// the next, so that a file sent again reads as more of the same stream.
type psSender struct {
	c       net.Conn
	ssrc    uint32
	seq     uint16
	packets uint64
}

func newPSSender(t *testing.T, addr string, ssrc uint32) *psSender {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &psSender{c: c, ssrc: ssrc}
}

// send sends b once, the marker bit on its last packet.
func (s *psSender) send(b []byte) error {
	var pkt []byte
	for i := 0; i < len(b); i, s.seq = i+1400, s.seq+1 {
		end := min(i+1400, len(b))
		mark := byte(96)
		if end == len(b) {
			mark |= 0x80
		}
		ts, seq, ssrc := uint32(s.seq)*900, s.seq, s.ssrc
		pkt = append(pkt[:0], 0x80, mark, byte(seq>>8), byte(seq), byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts),
			byte(ssrc>>24), byte(ssrc>>16), byte(ssrc>>8), byte(ssrc))
		pkt = append(pkt, b[i:end]...)
		if _, err := s.c.Write(pkt); err != nil {
			return err
		}
		s.packets++
		if seq%32 == 31 {
			time.Sleep(time.Millisecond) // pacing, not synchronisation: keep loopback from dropping a burst
		}
	}
	return nil
}

// loop sends b again and again until stop closes, and then reports how
// many times it sent it (or why it stopped) on the channel it returns. A
// test that fails before closing stop ends it too: the cleanup closes the
// socket, and the next write fails.
func (s *psSender) loop(b []byte, stop <-chan struct{}) <-chan loopResult {
	done := make(chan loopResult, 1)
	go func() {
		var r loopResult
		for {
			if r.err = s.send(b); r.err != nil {
				done <- r
				return
			}
			r.passes++
			select {
			case <-stop:
				done <- r
				return
			case <-time.After(100 * time.Millisecond): // pacing: 50 pictures per 100 ms, not a flood
			}
		}
	}()
	return done
}

type loopResult struct {
	passes int
	err    error
}

// TestSIPpDevice has SIPp play the device: REGISTER with MD5 digest (with
// qop over UDP, without over TCP), the 200's Date header checked by the
// scenario, Keepalive, DataTransfer answered 200, a two-part Catalog in
// GB2312 answered to the platform's query (out-of-call scenario), then two
// INVITEs answered by SIPp with a GB SDP, ACK, media sent by the test as
// PS over RTP from ffmpeg (-f vob, no PSM) and GStreamer (mpegpsmux), the
// streams ready on the hub with the right codec, size and picture count,
// each read back by ffprobe over Skyrelay's RTSP server (TCP) on the same
// hub while the test sends the PS file again and again, BYE from the
// platform with every picture of every pass counted and none lost, and
// finally SIPp unregisters (Expires: 0).
func TestSIPpDevice(t *testing.T) {
	testpeer.Require(t, "sipp", "ffprobe")
	vob, gst := psFixtures(t)
	for _, tc := range []struct {
		transport string
		qop       bool
	}{{"u1", true}, {"t1", false}} {
		t.Run(tc.transport, func(t *testing.T) {
			ctx := testpeer.Context(t, 40*time.Second)
			const dev, ch1, ch2, pw = "34020000001320000077", "34020000001310000001", "34020000001310000002", "sipp-Secret9"
			p, hub := newPlatform(t, func(p *Platform) { p.Password = pw; p.DigestQOP = tc.qop })
			rs := &rtsp.Server{Address: "127.0.0.1:0", Hub: hub, Log: testLog(t)}
			if err := rs.Initialize(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(rs.Close)
			local := testpeer.FreeUDPPort(t)
			if tc.transport == "t1" {
				local = testpeer.FreePort(t)
			}
			// SIPp holds the registration for -d ms and then exits: both
			// INVITEs, ffprobe runs (a few seconds each on a busy 2-core
			// machine) and BYEs must fit in it.
			sipp := testpeer.Start(t, "sipp", "127.0.0.1:"+strconv.Itoa(p.SIPPort()),
				"-sf", "testdata/device.xml", "-oocsf", "testdata/device_ooc.xml", "-m", "1", "-t", tc.transport,
				"-i", "127.0.0.1", "-p", strconv.Itoa(local), "-au", dev, "-ap", pw,
				"-key", "device", dev, "-key", "server", p.ServerID, "-key", "domain", p.Domain, "-d", "8000",
				"-key", "ch1", ch1, "-key", "ch2", ch2, "-nostdin", "-timeout", "35s", "-timeout_error")
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("sipp:\n%s", sipp.Output())
				}
			})

			// Registered, keepalive and DataTransfer in, both catalog parts
			// decoded from GB2312.
			waitFor(ctx, t, "the two-part catalog", func() bool {
				d, ok := p.Device(dev)
				return ok && d.Online && len(d.Channels) == 2 && d.Channels[0].Name == "无人机通道1" && d.Channels[1].Name == "无人机通道2"
			})
			waitFor(ctx, t, "the keepalive", func() bool { return p.metrics.keepalives.Load() == 1 })
			if d, _ := p.Device(dev); d.Transport != map[string]string{"u1": "UDP", "t1": "TCP"}[tc.transport] || !strings.HasPrefix(d.RemoteAddr, "127.0.0.1:"+strconv.Itoa(local)) {
				t.Fatalf("device %+v", d)
			}

			for _, m := range []struct{ ch, file, path string }{{ch1, vob, "sipp/ffmpeg"}, {ch2, gst, "sipp/gstreamer"}} {
				s, err := p.Invite(ctx, dev, m.ch, "udp", WithPath(m.path))
				if err != nil {
					t.Fatalf("%s: %v\n%s", m.path, err, sipp.Output())
				}
				ssrc, _ := strconv.ParseUint(s.SSRC, 10, 32)
				b, err := os.ReadFile(m.file)
				if err != nil {
					t.Fatal(err)
				}
				tx := newPSSender(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(s.LocalPort)), uint32(ssrc))
				if err := tx.send(b); err != nil {
					t.Fatal(err)
				}
				if err := hub.WaitReady(ctx, m.path); err != nil {
					t.Fatal(err)
				}
				in := hub.Stream(m.path).Info()
				if len(in.Tracks) != 1 || in.Tracks[0].Codec != gateway.CodecH264 || in.Tracks[0].Width != 320 || in.Tracks[0].Height != 240 {
					t.Fatalf("%s: %+v", m.path, in)
				}
				// 50 pictures; the last one leaves the demuxer at the end
				// (BYE) or with the first pack of the next pass.
				sent := tx.packets
				waitFor(ctx, t, "every packet of "+m.path, func() bool { return s.Info().Packets == sent })
				if n := s.Info().VideoUnits; n < 49 {
					t.Fatalf("%s: %d pictures before the end", m.path, n)
				}

				// The file lasts 2 s and is all in: ffprobe, which takes
				// a while to start on a busy machine, reads the stream
				// while the test sends the file again and again.
				stop := make(chan struct{})
				looped := tx.loop(b, stop)
				probeRTSP(t, ctx, "rtsp://"+rs.Addr().String()+"/"+m.path)
				close(stop)
				r := <-looped
				if r.err != nil {
					t.Fatal(r.err)
				}
				sent = tx.packets
				waitFor(ctx, t, "every packet of "+m.path+" sent again", func() bool { return s.Info().Packets == sent })
				if err := s.Bye(ctx); err != nil {
					t.Fatal(err)
				}
				if si := s.Info(); si.VideoUnits != uint64(50*(1+r.passes)) || si.Lost != 0 {
					t.Fatalf("%s: %d passes: %+v", m.path, 1+r.passes, si)
				}
				t.Logf("%s: %d passes, %d packets, %d pictures", m.path, 1+r.passes, s.Info().Packets, s.Info().VideoUnits)
			}

			if err := sipp.Wait(ctx); err != nil {
				t.Fatalf("sipp: %v\n%s", err, sipp.Output())
			}
			if d, _ := p.Device(dev); d.Registered || d.Online {
				t.Fatalf("still registered after Expires: 0: %+v", d)
			}
		})
	}
}

// probeRTSP has ffprobe read path back over Skyrelay's RTSP server (TCP)
// and checks it is the fixtures' 320x240 H.264. ffprobe reads 25 packets
// (-read_intervals %+#25) rather than a time span: the file sent again
// starts its timestamps over, which the hub rebases (TestClockRestartKeepsStreamGoing
// reads a time span across such restarts).
func probeRTSP(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	res := testpeer.FFprobe(t, ctx, url, "-rtsp_transport", "tcp", "-read_intervals", "%+#25")
	v, ok := res.Video()
	if !ok || v.Codec != "h264" || v.Width != 320 || v.Height != 240 || v.Packets < 25 {
		t.Fatalf("ffprobe %s: %+v\n%s", url, v, res.JSON)
	}
	t.Logf("ffprobe %s: %s %dx%d, %d packets", url, v.Codec, v.Width, v.Height, v.Packets)
}
