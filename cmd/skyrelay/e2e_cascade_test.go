package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/skyrelay/skyrelay/gb28181/ps"
	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// psReceiver is an upper platform's media port: RTP over UDP, or RFC 4571
// over a TCP connection it accepts; it keeps the PS payloads of whole
// frames.
type psReceiver struct {
	port  int
	pkts  chan []byte
	close func()
}

func newPSReceiver(t *testing.T, tcp bool) *psReceiver {
	r := &psReceiver{pkts: make(chan []byte, 1<<14)}
	if !tcp {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.port, r.close = pc.LocalAddr().(*net.UDPAddr).Port, func() { pc.Close() }
		go func() {
			for {
				b := make([]byte, 2048)
				n, _, err := pc.ReadFrom(b)
				if err != nil {
					return
				}
				r.pkts <- b[:n]
			}
		}()
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.port, r.close = ln.Addr().(*net.TCPAddr).Port, func() { ln.Close() }
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			fr := ps.NewFrameReader(c)
			for {
				p, err := fr.Next()
				if err != nil {
					return
				}
				r.pkts <- append([]byte(nil), p...)
			}
		}()
	}
	t.Cleanup(r.close)
	return r
}

// frames gathers the PS of n whole frames, checking the SSRC.
func (r *psReceiver) frames(ctx context.Context, t *testing.T, ssrc uint32, n int) []byte {
	var out []byte
	for got := 0; got < n; {
		select {
		case p := <-r.pkts:
			h, payload, err := ps.ParseRTP(p)
			if err != nil || h.SSRC != ssrc {
				t.Fatalf("RTP %+v %v", h, err)
			}
			out = append(out, payload...)
			if h.Marker {
				got++
			}
		case <-ctx.Done():
			t.Fatalf("PS: %d frames, want %d", got, n)
		}
	}
	return out
}

// The upper platform the cascade tests register to: SIPp running
// gb28181/cascade/testdata's scenarios.
const cascadeUpperID, cascadeLowerID, cascadePassword = "44010000002000000001", "34020000002000000001", "cascade-pw"

// startUpperRegistrar runs SIPp as an upper platform's registrar over
// sipT (u1: UDP, t1: TCP) on port, challenging with cascadePassword (qop:
// the challenge's qop parameter, "" for none), until the test ends.
func startUpperRegistrar(t *testing.T, sipT string, port int, qop string) {
	t.Helper()
	reg := testpeer.Start(t, "sipp", "-sf", cascadeScenario("upper.xml"), "-t", sipT, "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-key", "lower", cascadeLowerID, "-key", "password", cascadePassword, "-key", "qop", qop, "-nostdin")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sipp registrar %s:\n%s", sipT, reg.Output())
		}
	})
}

// startUpperPlay has SIPp, as the upper platform over sipT, INVITE channel
// from the gateway's upstream SIP port sipPort, with media to rcv over
// proto (setupLine: the SDP line that goes with it), and BYE after.
func startUpperPlay(t *testing.T, sipPort int, sipT, channel string, rcv *psReceiver, proto, setupLine, timeout string) *testpeer.Proc {
	t.Helper()
	local := testpeer.FreeUDPPort(t)
	if sipT == "t1" {
		local = testpeer.FreePort(t)
	}
	return testpeer.Start(t, "sipp", "127.0.0.1:"+strconv.Itoa(sipPort), "-sf", cascadeScenario("upper_play.xml"), "-m", "1",
		"-t", sipT, "-i", "127.0.0.1", "-p", strconv.Itoa(local),
		"-key", "lower", cascadeLowerID, "-key", "channel", channel,
		"-key", "mport", strconv.Itoa(rcv.port), "-key", "proto", proto, "-key", "setupline", setupLine,
		"-nostdin", "-timeout", timeout, "-timeout_error")
}

func cascadeScenario(name string) string {
	return filepath.Join(testpeer.Root(), "gb28181", "cascade", "testdata", name)
}

type upstreamsAnswer struct {
	Items []struct {
		Name, State, Contact string
		Channels             []struct{ ID, Path, Name string }
		Sessions             []struct{ Path, Transport string }
	}
}

// TestCascadeUpper: the binary registers to two upper platforms (SIPp,
// one over UDP, one over TCP, both with MD5 digest); an RTMP push from
// ffmpeg (H.264 and AAC) and an RTSP push (H.265) appear in their
// catalogs; one INVITEs the first (PS over RTP on UDP), the other the
// second (RFC 4571 over TCP that the gateway connects), and ffmpeg decodes
// what arrives, audio included; GET /api/v1/gb28181/upstreams shows it all.
func TestCascadeUpper(t *testing.T) {
	testpeer.Require(t, "sipp", "ffmpeg", "ffprobe")
	udpPort, tcpPort := testpeer.FreeUDPPort(t), testpeer.FreePort(t)
	startUpperRegistrar(t, "u1", udpPort, `,qop="auth"`)
	startUpperRegistrar(t, "t1", tcpPort, `,qop="auth"`)
	t.Setenv("SKYRELAY_GB28181_UPSTREAM_TCP_PASSWORD", cascadePassword) // the second one's password from the environment
	g := gwproc.StartGB28181(t, `upstreams: [`+
		`{name: udp, address: "127.0.0.1:`+strconv.Itoa(udpPort)+`", server_id: "`+cascadeUpperID+`", password: `+cascadePassword+`, keepalive_interval: 1s},`+
		`{name: tcp, address: "127.0.0.1:`+strconv.Itoa(tcpPort)+`", transport: tcp, server_id: "`+cascadeUpperID+`", keepalive_interval: 1s}]`, "")
	g.Push(t, testpeer.Clip(t, testpeer.ClipH264SmallAAC), "live/a")
	testpeer.Start(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", testpeer.Clip(t, testpeer.ClipH265Small),
		"-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", g.RTSPURL("live/h265"))
	g.WaitReady(t, "live/a", 15*time.Second)
	g.WaitReady(t, "live/h265", 15*time.Second)

	var ups upstreamsAnswer
	eventually(t, 20*time.Second, "both upstreams registered with both streams offered", func() bool {
		ups = upstreamsAnswer{}
		call(t, g, "GET", "/api/v1/gb28181/upstreams", "", &ups)
		ok := len(ups.Items) == 2
		for _, u := range ups.Items {
			ok = ok && u.State == "registered" && len(u.Channels) == 2
		}
		return ok
	})
	for i, tc := range []struct {
		sipT        string
		tcp         bool
		proto, line string
		path, codec string
		audio       bool
	}{{"u1", false, "RTP/AVP", "a=connection:new", "live/a", "h264", true}, {"t1", true, "TCP/RTP/AVP", "a=setup:passive", "live/h265", "hevc", false}} {
		u := ups.Items[i]
		channel := ""
		for _, c := range u.Channels {
			if c.Path == tc.path {
				channel = c.ID
			}
		}
		var contact sip.Uri
		if err := sip.ParseUri(u.Contact, &contact); err != nil {
			t.Fatalf("contact %q: %v", u.Contact, err)
		}
		ctx := testpeer.Context(t, 40*time.Second)
		rcv := newPSReceiver(t, tc.tcp)
		play := startUpperPlay(t, contact.Port, tc.sipT, channel, rcv, tc.proto, tc.line, "30s")
		b := rcv.frames(ctx, t, 0x0BEBF239, 50)
		var sessions upstreamsAnswer
		call(t, g, "GET", "/api/v1/gb28181/upstreams", "", &sessions)
		if s := sessions.Items[i].Sessions; len(s) != 1 || s[0].Path != tc.path {
			t.Fatalf("%s sessions %+v", u.Name, s)
		}
		if err := play.Wait(ctx); err != nil {
			t.Fatalf("sipp play over %s: %v\n%s", tc.sipT, err, play.Output())
		}
		f := filepath.Join(t.TempDir(), "upper.ps")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		res := testpeer.FFprobe(t, ctx, f, "-f", "mpeg")
		v, ok := res.Video()
		if !ok || v.Codec != tc.codec || v.Width != 320 || v.Height != 240 {
			t.Fatalf("ffprobe of the PS over %s: %s", tc.sipT, res.JSON)
		}
		if a, ok := res.Audio(); tc.audio && (!ok || a.Codec != "aac" || a.Packets == 0) {
			t.Fatalf("no AAC in the PS over %s: %s", tc.sipT, res.JSON)
		}
		cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-f", "mpeg", "-i", f, "-f", "null", "-")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Fatalf("decoding the PS over %s: %v %s", tc.sipT, err, stderr.String())
		}
	}
	if n, _ := g.Metric(t, `skyrelay_gb28181_upstream_registered{upstream="tcp"}`); n != 1 {
		t.Fatalf("registered metric %v", n)
	}
}

// TestCascadeDock: a docksim dock's cameras appear in an upper platform's
// catalog (SIPp over UDP), and its INVITE of the aircraft's camera, which
// is not live, starts it (live_start_push, as a viewer would) and gets PS
// over UDP; a second INVITE gets it over TCP; after the last BYE the push
// stops by itself (control.idle_stop_after).
func TestCascadeDock(t *testing.T) {
	testpeer.Require(t, "sipp", "ffprobe")
	port := testpeer.FreeUDPPort(t)
	startUpperRegistrar(t, "u1", port, "")
	g := gwproc.StartGB28181(t, `upstreams: [{name: city, address: "127.0.0.1:`+strconv.Itoa(port)+`", server_id: "`+cascadeUpperID+`", password: `+cascadePassword+`}]`,
		"control: {idle_stop_after: 2s}\n")
	d := startDock(t, g, nil)
	video := d.VideoIDs()[1] // the aircraft's camera
	var ups upstreamsAnswer
	var channel string
	eventually(t, 20*time.Second, "the dock's cameras in the catalog", func() bool {
		ups = upstreamsAnswer{}
		call(t, g, "GET", "/api/v1/gb28181/upstreams", "", &ups)
		for _, c := range ups.Items[0].Channels {
			if c.Path == video {
				channel = c.ID
			}
		}
		return ups.Items[0].State == "registered" && channel != ""
	})
	var contact sip.Uri
	if err := sip.ParseUri(ups.Items[0].Contact, &contact); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tcp         bool
		proto, line string
	}{{false, "RTP/AVP", "a=connection:new"}, {true, "TCP/RTP/AVP", "a=setup:passive"}} {
		ctx := testpeer.Context(t, 40*time.Second)
		rcv := newPSReceiver(t, tc.tcp)
		play := startUpperPlay(t, contact.Port, "u1", channel, rcv, tc.proto, tc.line, "35s")
		b := rcv.frames(ctx, t, 0x0BEBF239, 30)
		if err := play.Wait(ctx); err != nil {
			t.Fatalf("sipp play (tcp media %v): %v\n%s", tc.tcp, err, play.Output())
		}
		f := filepath.Join(t.TempDir(), "dock.ps")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if v, ok := testpeer.FFprobe(t, ctx, f, "-f", "mpeg").Video(); !ok || v.Codec != "h264" || v.Width == 0 {
			t.Fatalf("ffprobe of the dock camera's PS (tcp %v): %+v", tc.tcp, v)
		}
	}
	waitLiveStopped(t, g, video, 15*time.Second, "the push to stop after the last BYE")
}
