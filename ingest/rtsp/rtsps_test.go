package rtsp

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway/tlscert"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// withRTSPS adds an RTSPS server beside e's plain one, on the same hub,
// with a certificate of a test CA; it returns its base URL.
func withRTSPS(t *testing.T, e *env) (string, *tlscert.Holder, *testpeer.TestCA) {
	t.Helper()
	ca := testpeer.NewTestCA(t)
	h := &tlscert.Holder{CertFile: ca.CertFile, KeyFile: ca.KeyFile, Log: testLog()}
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	s := &Server{Address: "127.0.0.1:0", Hub: e.hub, Auth: e.auth, Log: testLog(), TLS: h}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	_, port, _ := net.SplitHostPort(s.Addr().String())
	return "rtsps://localhost:" + port, h, ca
}

// TestFFmpegRTSPS: ffmpeg publishes over RTSPS;
// ffprobe reads it back over RTSPS and over the plain RTSP beside it.
func TestFFmpegRTSPS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	base, h, ca := withRTSPS(t, e)
	const path = "live/secure"
	testpeer.Start(t, "ffmpeg", "-hide_banner", "-loglevel", "info", "-re", "-stream_loop", "-1",
		"-i", avClip(t), "-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", base+"/"+path)
	s := e.waitReady(t, path, 15*time.Second)
	if src, _ := s.Source(); src.Protocol != "rtsp" {
		t.Fatalf("source %+v", src)
	}

	ctx := testpeer.Context(t, 30*time.Second)
	res := testpeer.FFprobe(t, ctx, base+"/"+path, "-rtsp_transport", "tcp", "-read_intervals", "%+3")
	if v, ok := res.Video(); !ok || v.Codec != "h264" || v.Width != 320 || v.Packets <= 0 {
		t.Fatalf("ffprobe over RTSPS: %s", res.JSON)
	}
	if a, ok := res.Audio(); !ok || a.Codec != "aac" || a.Packets <= 0 {
		t.Fatalf("ffprobe over RTSPS, audio: %s", res.JSON)
	}
	probeAV(t, e.url(path), "tcp", true)
	// ffmpeg 5.1's RTSP does not hand -tls_verify and -ca_file to its TLS
	// layer (RTMP does), so the certificate is verified here instead.
	c, err := tls.Dial("tcp", base[len("rtsps://"):], &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("the RTSPS port does not present the configured certificate: %v", err)
	}
	c.Close()
	if n := h.Plaintext("rtsps"); n != 0 {
		t.Fatalf("TLS peers counted as plain text: %d", n)
	}
}

// TestPlainRTSPOnRTSPSPort: ffprobe asking rtsp:// of the RTSPS port and
// raw bytes are refused and counted; TLS readers still get through.
func TestPlainRTSPOnRTSPSPort(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	base, h, _ := withRTSPS(t, e)
	publishCore(t, e, "drone/cam", hlstestClip(t), true)
	e.waitReady(t, "drone/cam", 10*time.Second)
	addr := base[len("rtsps://localhost:"):]

	ctx := testpeer.Context(t, 30*time.Second)
	if _, err := testpeer.ProbeURL(ctx, "rtsp://127.0.0.1:"+addr+"/drone/cam", "-rtsp_transport", "tcp"); err == nil {
		t.Fatal("ffprobe read plain RTSP from the RTSPS port")
	}
	for _, junk := range []string{"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n", "\x00"} {
		c, err := net.Dial("tcp", "127.0.0.1:"+addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(junk))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		if n, err := c.Read(buf); err == nil {
			t.Fatalf("the RTSPS port answered plain text with %q", buf[:n])
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the RTSPS port kept a plain-text connection open")
		}
		c.Close()
	}
	if n := h.Plaintext("rtsps"); n != 3 {
		t.Fatalf("plain text counted %d, want 3", n)
	}
	res := testpeer.FFprobe(t, ctx, base+"/drone/cam", "-rtsp_transport", "tcp", "-read_intervals", "%+2")
	if v, ok := res.Video(); !ok || v.Packets <= 0 {
		t.Fatalf("ffprobe over RTSPS after the plain text: %s", res.JSON)
	}
}

func TestRTSPSRefusesUDP(t *testing.T) {
	ca := testpeer.NewTestCA(t)
	h := &tlscert.Holder{CertFile: ca.CertFile, KeyFile: ca.KeyFile, Log: testLog()}
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	hub := newEnv(t, 0).hub
	s := &Server{Address: "127.0.0.1:0", UDPRTPAddress: "127.0.0.1:0", UDPRTCPAddress: "127.0.0.1:0", Hub: hub, TLS: h}
	if err := s.Initialize(); err == nil {
		s.Close()
		t.Fatal("RTSPS started with plain UDP beside it")
	}
}
