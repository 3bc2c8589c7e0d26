package rtmp

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway/tlscert"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// newRTMPS is an RTMPS server on a free port with a certificate of a test
// CA.
func newRTMPS(t *testing.T) (*env, *tlscert.Holder, *testpeer.TestCA) {
	t.Helper()
	ca := testpeer.NewTestCA(t)
	h := &tlscert.Holder{CertFile: ca.CertFile, KeyFile: ca.KeyFile, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	e := newEnv(t, 0, func(s *Server) { s.TLS = h })
	return e, h, ca
}

// TestFFmpegRTMPS: ffmpeg publishes over RTMPS, verifying the certificate
// against the test CA, and ffprobe plays the stream back over RTMPS.
func TestFFmpegRTMPS(t *testing.T) {
	t.Parallel()
	e, h, ca := newRTMPS(t)
	const path = "live/secure"
	url := "rtmps://localhost:" + portOf(e.srv.Addr()) + "/" + path
	testpeer.Start(t, "ffmpeg", "-hide_banner", "-loglevel", "info", "-re", "-stream_loop", "-1",
		"-i", testpeer.Clip(t, testpeer.ClipH264Small), "-c", "copy",
		"-tls_verify", "1", "-ca_file", ca.CAFile, "-f", "flv", url)

	st := e.waitReady(t, path, 15*time.Second)
	k := attach(t, st)
	k.waitVideo(t, 10, 10*time.Second)
	if info := st.Info(); info.Source.Protocol != "rtmp" || info.BytesReceived == 0 {
		t.Fatalf("source %+v, bytes %d", info.Source, info.BytesReceived)
	}

	// ffprobe reads it back over RTMPS and decodes it.
	res := testpeer.FFprobe(t, testpeer.Context(t, 30*time.Second), url, "-tls_verify", "1", "-ca_file", ca.CAFile, "-read_intervals", "%+2")
	if v, ok := res.Video(); !ok || v.Codec != "h264" || v.Width != 320 || v.Packets < 10 {
		t.Fatalf("ffprobe over RTMPS: %s", res.JSON)
	}
	// ffprobe does verify: a CA that did not sign the certificate fails.
	other := testpeer.NewTestCA(t)
	if _, err := testpeer.ProbeURL(testpeer.Context(t, 30*time.Second), url, "-tls_verify", "1", "-ca_file", other.CAFile,
		"-read_intervals", "%+1"); err == nil {
		t.Fatal("ffprobe accepted the certificate with another CA: it does not verify, and this test proves nothing")
	}
	if n := h.Plaintext("rtmps"); n != 0 {
		t.Fatalf("TLS peers counted as plain text: %d", n)
	}
}

// TestPlainRTMPOnRTMPSPort: ffmpeg publishing rtmp:// to the RTMPS port is
// refused and counted, and so are raw bytes; the server keeps serving TLS.
func TestPlainRTMPOnRTMPSPort(t *testing.T) {
	t.Parallel()
	e, h, _ := newRTMPS(t)
	port := portOf(e.srv.Addr())
	ctx := testpeer.Context(t, 30*time.Second)

	ff := testpeer.Start(t, "ffmpeg", "-hide_banner", "-re", "-i", testpeer.Clip(t, testpeer.ClipH264Small),
		"-c", "copy", "-f", "flv", "rtmp://127.0.0.1:"+port+"/live/plain")
	if err := ff.Wait(ctx); err == nil {
		t.Fatal("ffmpeg published plain RTMP to the RTMPS port")
	}
	for _, junk := range [][]byte{{0x03}, []byte("GET / HTTP/1.0\r\n\r\n"), {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}} {
		c, err := net.Dial("tcp", e.srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write(junk)
		closedWithin(t, c, 5*time.Second)
	}
	if n := h.Plaintext("rtmps"); n != 4 {
		t.Fatalf("plain text counted %d, want 4", n)
	}
	if e.hub.Stream("live/plain") != nil {
		t.Fatal("a plain-text publisher made a stream")
	}

	// Still serving: a TLS publisher gets through.
	pushFFmpeg(t, testpeer.Clip(t, testpeer.ClipH264Small), "rtmps://localhost:"+port+"/live/after", true)
	e.waitReady(t, "live/after", 15*time.Second)
}

func portOf(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// TestFirstFrameDelayRTMPS: over RTMPS too, publish to first playable frame
// does not wait for a probe; the TLS handshake and the quick ACKs reaching
// the TCP connection beneath TLS keep it short.
func TestFirstFrameDelayRTMPS(t *testing.T) {
	t.Parallel()
	e, _, _ := newRTMPS(t)
	ready := readyAt(e, "live/tlsdelay")
	pushFFmpeg(t, testpeer.Clip(t, testpeer.ClipH264Small), "rtmps://localhost:"+portOf(e.srv.Addr())+"/live/tlsdelay", true)
	checkDelay(t, firstFrameDelay(t, e, ready))
}
