package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestRTMPToEveryOutput is the binary's main promise: one RTMP push from
// ffmpeg is read by ffprobe over RTSP (TCP and UDP) and LL-HLS, and decoded
// by Chromium over WHEP at the clip's frame rate from a page on another
// origin.
func TestRTMPToEveryOutput(t *testing.T) {
	testpeer.Require(t, "ffmpeg", "ffprobe")
	g := gwproc.Start(t, "")
	clip := testpeer.Clip(t, testpeer.ClipH264Small) // 320x240, 25 fps
	g.Push(t, clip, "live/a")
	g.WaitReady(t, "live/a", 15*time.Second)

	for _, tr := range []string{"tcp", "udp"} {
		ctx := testpeer.Context(t, 30*time.Second)
		v, ok := testpeer.FFprobe(t, ctx, g.RTSPURL("live/a"), "-rtsp_transport", tr).Video()
		if !ok || v.Codec != "h264" || v.Width != 320 || v.Height != 240 {
			t.Fatalf("RTSP over %s: video %+v, want h264 320x240", tr, v)
		}
	}
	ctx := testpeer.Context(t, 30*time.Second)
	if v, ok := testpeer.FFprobe(t, ctx, g.URL("/live/a/index.m3u8")).Video(); !ok || v.Codec != "h264" || v.Width != 320 {
		t.Fatalf("LL-HLS: video %+v, want h264 320 wide", v)
	}

	r := playWHEP(t, g.URL("/live/a/whep"), 3*time.Second)
	t.Logf("WHEP in Chromium: %+v", r)
	if r.FPS < 20 || r.FPS > 30 || r.Width != 320 {
		t.Fatalf("Chromium decoded %.1f fps at width %d, want the clip's 25 fps at 320", r.FPS, r.Width)
	}
	if !strings.HasPrefix(r.Location, "/live/a/whep/") {
		t.Fatalf("Location %q is not exposed to the page or not under the WHEP URL", r.Location)
	}
	if n, _ := g.Metric(t, `skyrelay_streams{ready="true"}`); n != 1 {
		t.Fatalf("skyrelay_streams = %v, want 1", n)
	}
}

// TestRTSPPush: ffmpeg publishes with ANNOUNCE/RECORD over TCP and UDP and
// ffprobe reads each stream back.
func TestRTSPPush(t *testing.T) {
	testpeer.Require(t, "ffmpeg", "ffprobe")
	g := gwproc.Start(t, "")
	clip := testpeer.Clip(t, testpeer.ClipH264Small)
	for _, tr := range []string{"tcp", "udp"} {
		path := "push/" + tr
		testpeer.Start(t, "ffmpeg", "-hide_banner", "-loglevel", "warning", "-re", "-stream_loop", "-1", "-i", clip,
			"-c", "copy", "-f", "rtsp", "-rtsp_transport", tr, g.RTSPURL(path))
		g.WaitReady(t, path, 15*time.Second)
		ctx := testpeer.Context(t, 30*time.Second)
		if v, ok := testpeer.FFprobe(t, ctx, g.RTSPURL(path), "-rtsp_transport", "tcp").Video(); !ok || v.Width != 320 {
			t.Fatalf("RTSP push over %s read back as %+v", tr, v)
		}
	}
}

// TestBadInput: garbage on the RTMP and RTSP ports and a broken WHEP offer
// get an error each, and a stream already playing goes on.
func TestBadInput(t *testing.T) {
	testpeer.Require(t, "ffmpeg")
	g := gwproc.Start(t, "")
	g.Push(t, testpeer.Clip(t, testpeer.ClipH264Small), "live/ok")
	g.WaitReady(t, "live/ok", 15*time.Second)

	garbage := []byte(strings.Repeat("\x03\xff\x00garbage\r\n\r\nDESCRIBE nothing RTSP/9\r\n\r\n", 500))
	for _, port := range []int{g.RTMP, g.RTSP} {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", itoa(int64(port))))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(garbage)
		// The gateway must end the connection rather than wait forever.
		_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("port %d kept a garbage connection open", port)
				}
				break
			}
		}
		c.Close()
	}

	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	resp, err := httpPost(g.URL("/live/ok/whep"), "application/sdp", "v=0\r\nthis is not an offer\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if resp.code != 400 || !strings.Contains(resp.body, `"error"`) {
		t.Fatalf("invalid WHEP offer: %d %s, want 400 with a JSON error", resp.code, resp.body)
	}
	if code := call(t, g, "POST", "/api/v1/live", "{not json", &e); code != 400 || e.Error.Message == "" {
		t.Fatalf("malformed JSON to /api/v1/live: %d %+v, want 400 with a message", code, e)
	}
	healthy(t, g)
	var s struct {
		Ready bool `json:"ready"`
	}
	if call(t, g, "GET", "/api/v1/streams/live/ok", "", &s); !s.Ready {
		t.Fatal("the stream playing before the bad input is gone")
	}
}

// TestConfigErrors: -check names the unknown key and exits 1; a valid file
// passes.
func TestConfigErrors(t *testing.T) {
	bin := gwproc.Binary(t)
	dir := t.TempDir()
	for _, c := range []struct{ yaml, want string }{
		{"http:\n  listn: \":8080\"\n", "http.listn: unknown key"},
		{"control:\n  reply_timeout: soon\n", "control.reply_timeout"},
		{"mqtt:\n  broker: ftp://x\n", "mqtt.broker"},
		{"rtsp:\n  listen: \":8554\"\n", "config ok"},
	} {
		f := filepath.Join(dir, "c.yml")
		if err := os.WriteFile(f, []byte(c.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "-config", f, "-check").CombinedOutput()
		ok := c.want == "config ok"
		if (err == nil) != ok || !strings.Contains(string(out), c.want) {
			t.Errorf("%q: exit err %v, output %q; want %q", c.yaml, err, out, c.want)
		}
		if !ok && strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
			t.Errorf("%q: the error takes more than one line: %q", c.yaml, out)
		}
	}
}

// TestPublisherRestartKeepsWHEPViewer: the publisher is killed and back
// within 2 s; the Chromium viewer keeps decoding on the same
// PeerConnection. Over an 8 s window with a gap of about a second, a
// viewer that stopped at the kill would show under 10 fps.
func TestPublisherRestartKeepsWHEPViewer(t *testing.T) {
	testpeer.Require(t, "ffmpeg")
	g := gwproc.Start(t, "")
	clip := testpeer.Clip(t, testpeer.ClipH264Small)
	pub := g.Push(t, clip, "live/r")
	g.WaitReady(t, "live/r", 15*time.Second)

	res := make(chan whepResult, 1)
	go func() {
		defer close(res) // also when playWHEP fails the test and exits this goroutine
		res <- playWHEP(t, g.URL("/live/r/whep"), 8*time.Second)
	}()
	eventually(t, 30*time.Second, "a WebRTC reader", func() bool {
		var s struct {
			Readers []struct{ Protocol string } `json:"readers"`
		}
		call(t, g, "GET", "/api/v1/streams/live/r", "", &s)
		return len(s.Readers) > 0 && s.Readers[0].Protocol == "webrtc"
	})
	time.Sleep(2 * time.Second) // into the measuring window (it starts 1 s after the first frame)
	_ = pub.Process.Kill()
	_ = pub.Wait()
	g.Push(t, clip, "live/r")
	r, ok := <-res
	if !ok {
		t.FailNow()
	}
	t.Logf("viewer across the restart: %+v", r)
	if r.State != "connected" || r.FPS < 15 {
		t.Fatalf("viewer across a publisher restart: %.1f fps, state %s", r.FPS, r.State)
	}
	if n, _ := g.Metric(t, "skyrelay_publisher_reconnects_total"); n < 1 {
		t.Fatalf("skyrelay_publisher_reconnects_total = %v, want ≥ 1", n)
	}
}

// TestSlowReaderDoesNotDisturbOthers: an RTSP reader over TCP that stops
// reading (with a tiny receive buffer) must not slow the publisher or a
// Chromium viewer of the same stream. The 3 Mbit/s clip fills the
// reader's queue within seconds, and the test waits for the gateway to
// say it dropped that reader's packets, so the stall is real.
func TestSlowReaderDoesNotDisturbOthers(t *testing.T) {
	testpeer.Require(t, "ffmpeg")
	g := gwproc.Start(t, "")
	g.Push(t, testpeer.Clip(t, testpeer.ClipH264720p30), "live/s")
	g.WaitReady(t, "live/s", 15*time.Second)

	stalled := stallRTSPReader(t, g.RTSPURL("live/s"))
	defer stalled.Close()
	g.WaitLog(t, "RTSP reader too slow", 30*time.Second)
	r := playWHEP(t, g.URL("/live/s/whep"), 4*time.Second)
	t.Logf("Chromium beside a stalled RTSP reader: %+v", r)
	if r.FPS < 24 || r.FPS > 36 {
		t.Fatalf("the normal viewer decoded %.1f fps, want the clip's 30", r.FPS)
	}
	var s struct {
		BytesReceived uint64 `json:"bytes_received"`
	}
	call(t, g, "GET", "/api/v1/streams/live/s", "", &s)
	before := s.BytesReceived
	eventually(t, 5*time.Second, "the publisher to go on sending", func() bool {
		call(t, g, "GET", "/api/v1/streams/live/s", "", &s)
		return s.BytesReceived > before+20_000
	})
}

// stallRTSPReader plays url over RTSP/TCP by hand (DESCRIBE, SETUP, PLAY)
// and then never reads again.
func stallRTSPReader(t *testing.T, url string) net.Conn {
	t.Helper()
	host := strings.SplitN(strings.TrimPrefix(url, "rtsp://"), "/", 2)[0]
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
	}}
	c, err := d.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	session := ""
	req := func(method, u, extra string) string {
		_, _ = fmt.Fprintf(c, "%s %s RTSP/1.0\r\nCSeq: %d\r\n%s\r\n", method, u, len(method), extra)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var head strings.Builder
		length := 0
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: %v", method, err)
			}
			head.WriteString(line)
			if k, v, ok := strings.Cut(line, ":"); ok {
				switch strings.ToLower(k) {
				case "content-length":
					length, _ = strconv.Atoi(strings.TrimSpace(v))
				case "session":
					session = strings.TrimSpace(strings.Split(v, ";")[0])
				}
			}
			if line == "\r\n" {
				break
			}
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(head.String(), " 200 ") {
			t.Fatalf("%s: %s", method, head.String())
		}
		return string(body)
	}
	sdp := req("DESCRIBE", url, "Accept: application/sdp\r\n")
	track := url
	for _, l := range strings.Split(sdp, "\n") {
		if ctl, ok := strings.CutPrefix(strings.TrimSpace(l), "a=control:"); ok && ctl != "*" {
			track = ctl
			if !strings.HasPrefix(ctl, "rtsp://") {
				track = url + "/" + ctl
			}
			break
		}
	}
	req("SETUP", track, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
	req("PLAY", url, "Session: "+session+"\r\n")
	return c
}

// TestShutdown: SIGTERM closes every connection and the process exits 0;
// the publisher sees its connection end.
func TestShutdown(t *testing.T) {
	testpeer.Require(t, "ffmpeg")
	g := gwproc.Start(t, "")
	pub := testpeer.Start(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
		"-i", testpeer.Clip(t, testpeer.ClipH264Small), "-c", "copy", "-f", "flv", g.RTMPURL("live/x"))
	g.WaitReady(t, "live/x", 15*time.Second)

	exited := make(chan error, 1)
	go func() { exited <- g.Wait() }()
	if err := g.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("skyrelay exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("skyrelay still runs 15 s after SIGTERM")
	}
	select {
	case <-pub.Exited():
	case <-time.After(15 * time.Second):
		t.Fatal("ffmpeg still publishes: its connection was not closed")
	}
}
