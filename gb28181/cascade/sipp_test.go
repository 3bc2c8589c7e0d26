package cascade

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/skyrelay/skyrelay/gb28181/ps"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestSIPpUpper: SIPp plays the upper platform (testdata/upper.xml): it
// challenges our REGISTER with MD5 digest (qop=auth over UDP, none over
// TCP) and verifies the answer, takes keepalives, queries the Catalog,
// INVITEs a channel with PS over RTP to a port of the test (UDP, or TCP
// where we connect), ACKs, holds and BYEs. ffprobe then reads the PS that
// arrived: H.264 at the clip's size, every picture decodable from the
// first one on.
func TestSIPpUpper(t *testing.T) {
	testpeer.Require(t, "sipp", "ffprobe")
	for _, tc := range []struct {
		sip, media string
		qop        bool
	}{{"u1", "udp", true}, {"t1", "passive", false}} {
		t.Run(tc.sip, func(t *testing.T) {
			ctx := testpeer.Context(t, 40*time.Second)
			hub := newHub(t)
			publishClip(t, hub, "live/a")
			port := testpeer.FreeUDPPort(t)
			transport := "udp"
			if tc.sip == "t1" {
				port, transport = testpeer.FreePort(t), "tcp"
			}
			m := newMedia(t, tc.media)
			proto, setup := "RTP/AVP", "a=connection:new"
			if tc.media == "passive" {
				proto, setup = "TCP/RTP/AVP", "a=setup:passive"
			}
			qop := ""
			if tc.qop {
				qop = `,qop="auth"`
			}
			ch := newIDs(lowerID).id(typeIPC, "live/a")
			trace := filepath.Join(t.TempDir(), "sipp.msg")
			registrar := testpeer.Start(t, "sipp", "-sf", "testdata/upper.xml", "-t", tc.sip, "-i", "127.0.0.1", "-p", strconv.Itoa(port),
				"-key", "lower", lowerID, "-key", "password", password, "-key", "qop", qop,
				"-trace_msg", "-message_file", trace, "-nostdin")
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("sipp registrar:\n%s", registrar.Output())
					b, _ := os.ReadFile(trace)
					t.Logf("sipp registrar messages:\n%s", b)
				}
			})
			u := newLower(t, &upper{addr: "127.0.0.1:" + strconv.Itoa(port), transport: transport}, hub, func(u *Upstream) {
				u.KeepaliveInterval = 500 * time.Millisecond
			})
			waitState(ctx, t, u, StateRegistered)
			play := testpeer.Start(t, "sipp", "127.0.0.1:"+strconv.Itoa(u.SIPPort()), "-sf", "testdata/upper_play.xml", "-m", "1",
				"-t", tc.sip, "-i", "127.0.0.1", "-p", strconv.Itoa(testpeer.FreePort(t)),
				"-key", "lower", lowerID, "-key", "channel", ch,
				"-key", "mport", strconv.Itoa(m.port), "-key", "proto", proto, "-key", "setupline", setup,
				"-nostdin", "-timeout", "30s", "-timeout_error")
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("sipp play:\n%s", play.Output())
				}
			})
			psBytes := m.checkPS(ctx, 0x0BEBF239, 50)
			if err := play.Wait(ctx); err != nil {
				t.Fatalf("sipp play: %v", err)
			}
			if in := u.Info(); in.LastKeepalive == nil || in.KeepaliveCode != 200 || in.State != StateRegistered {
				t.Fatalf("no keepalive answered by SIPp: %+v", in)
			}
			if len(u.Sessions()) != 0 {
				t.Fatalf("session outlived SIPp's BYE: %+v", u.Sessions())
			}
			// The Catalog answer as SIPp received it.
			b, err := os.ReadFile(trace)
			if err != nil {
				t.Fatal(err)
			}
			msgs, _ := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
			if !strings.Contains(string(msgs), "<SN>248</SN><DeviceID>"+lowerID+"</DeviceID><SumNum>1</SumNum><DeviceList Num=\"1\"><Item><DeviceID>"+ch+"</DeviceID><Name>live/a</Name>") {
				t.Fatalf("SIPp did not receive the Catalog answer")
			}
			u.Close()
			b, _ = os.ReadFile(trace)
			if !bytes.Contains(b, []byte("Expires: 0")) {
				t.Fatalf("SIPp saw no unregister")
			}
			probePS(ctx, t, psBytes)
		})
	}
}

// probePS has ffprobe read PS bytes: H.264 320x240... whatever the clip
// is, with every packet decodable (nb_read_frames equals nb_read_packets,
// so the first picture is a key frame).
func probePS(ctx context.Context, t *testing.T, b []byte) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "out.ps")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	res := testpeer.FFprobe(t, ctx, f, "-f", "mpeg")
	v, ok := res.Video()
	if !ok || v.Codec != "h264" || v.Width == 0 || v.Packets < 40 {
		t.Fatalf("ffprobe: %s", res.JSON)
	}
	cmd := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-f", "mpeg", "-count_frames", "-count_packets", "-select_streams", "v",
		"-show_entries", "stream=nb_read_frames,nb_read_packets", "-of", "csv=p=0", f)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ffprobe -count_frames: %v %s", err, stderr.String())
	}
	parts := strings.Split(strings.TrimSpace(string(out)), ",")
	if len(parts) != 2 || parts[0] != parts[1] {
		t.Fatalf("decoded frames,packets = %s: some pictures did not decode", bytes.TrimSpace(out))
	}
	// Every key frame's pack carries the system header and the PSM.
	var d ps.Demuxer
	d.Write(b)
	if st := d.Stats(); st.Resyncs != 0 || st.GarbageBytes != 0 || st.PSMs == 0 {
		t.Fatalf("our own demuxer had to resync: %+v", st)
	}
}
