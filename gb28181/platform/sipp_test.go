package platform

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
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

// sendPSOverRTP sends a PS file to addr as RTP over UDP, 1400 bytes of PS
// per packet, cut with no regard for pack or PES boundaries (devices do
// the same).
func sendPSOverRTP(t *testing.T, file, addr string, ssrc uint32) (packets uint64) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var pkt []byte
	for i, seq := 0, uint16(0); i < len(b); i, seq = i+1400, seq+1 {
		end := min(i+1400, len(b))
		mark := byte(96)
		if end == len(b) {
			mark |= 0x80
		}
		ts := uint32(seq) * 900
		pkt = append(pkt[:0], 0x80, mark, byte(seq>>8), byte(seq), byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts),
			byte(ssrc>>24), byte(ssrc>>16), byte(ssrc>>8), byte(ssrc))
		pkt = append(pkt, b[i:end]...)
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
		packets++
		if seq%32 == 31 {
			time.Sleep(time.Millisecond) // pacing, not synchronisation: keep loopback from dropping a burst
		}
	}
	return packets
}

// TestSIPpDevice has SIPp play the device: REGISTER with MD5 digest (with
// qop over UDP, without over TCP), the 200's Date header checked by the
// scenario, Keepalive, DataTransfer answered 200, a two-part Catalog in
// GB2312 answered to the platform's query (out-of-call scenario), then two
// INVITEs answered by SIPp with a GB SDP, ACK, media sent by the test as
// PS over RTP from ffmpeg (-f vob, no PSM) and GStreamer (mpegpsmux), the
// streams ready on the hub with the right codec, size and picture count,
// BYE from the platform, and finally SIPp unregisters (Expires: 0).
func TestSIPpDevice(t *testing.T) {
	testpeer.Require(t, "sipp")
	vob, gst := psFixtures(t)
	for _, tc := range []struct {
		transport string
		qop       bool
	}{{"u1", true}, {"t1", false}} {
		t.Run(tc.transport, func(t *testing.T) {
			ctx := testpeer.Context(t, 40*time.Second)
			const dev, ch1, ch2, pw = "34020000001320000077", "34020000001310000001", "34020000001310000002", "sipp-Secret9"
			p, hub := newPlatform(t, func(p *Platform) { p.Password = pw; p.DigestQOP = tc.qop })
			local := testpeer.FreeUDPPort(t)
			if tc.transport == "t1" {
				local = testpeer.FreePort(t)
			}
			sipp := testpeer.Start(t, "sipp", "127.0.0.1:"+strconv.Itoa(p.SIPPort()),
				"-sf", "testdata/device.xml", "-oocsf", "testdata/device_ooc.xml", "-m", "1", "-t", tc.transport,
				"-i", "127.0.0.1", "-p", strconv.Itoa(local), "-au", dev, "-ap", pw,
				"-key", "device", dev, "-key", "server", p.ServerID, "-key", "domain", p.Domain, "-d", "3000",
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
				sent := sendPSOverRTP(t, m.file, net.JoinHostPort("127.0.0.1", strconv.Itoa(s.LocalPort)), uint32(ssrc))
				if err := hub.WaitReady(ctx, m.path); err != nil {
					t.Fatal(err)
				}
				in := hub.Stream(m.path).Info()
				if len(in.Tracks) != 1 || in.Tracks[0].Codec != gateway.CodecH264 || in.Tracks[0].Width != 320 || in.Tracks[0].Height != 240 {
					t.Fatalf("%s: %+v", m.path, in)
				}
				// 50 pictures; the last one leaves the demuxer at the end,
				// once every packet is in.
				waitFor(ctx, t, "every packet of "+m.path, func() bool { return s.Info().Packets == sent })
				if n := s.Info().VideoUnits; n < 49 {
					t.Fatalf("%s: %d pictures before the end", m.path, n)
				}
				if err := s.Bye(ctx); err != nil {
					t.Fatal(err)
				}
				if si := s.Info(); si.VideoUnits != 50 || si.Lost != 0 {
					t.Fatalf("%s: %+v", m.path, si)
				}
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
