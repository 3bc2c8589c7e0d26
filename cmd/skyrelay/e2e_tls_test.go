package main

import (
	"crypto/tls"
	"strconv"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestTLSEndToEnd: the binary with tls.* and every tls_listen. ffmpeg
// publishes over RTMPS verifying the test CA; ffprobe reads the stream back
// over RTSPS and over HTTPS (LL-HLS); curl speaks HTTP/2 to the HTTPS port
// and is told off in plain HTTP; Mosquitto's clients talk through the
// embedded broker over TLS with --cafile; a rotated certificate is served
// without a restart.
func TestTLSEndToEnd(t *testing.T) {
	testpeer.Require(t, "ffmpeg", "ffprobe", "curl", "mosquitto_sub", "mosquitto_pub")
	ca := testpeer.NewTestCA(t)
	g := gwproc.StartWith(t, gwproc.Options{CertFile: ca.CertFile, KeyFile: ca.KeyFile})
	port := func(p int) string { return strconv.Itoa(p) }
	ctx := testpeer.Context(t, 120*time.Second)

	testpeer.Start(t, "ffmpeg", "-hide_banner", "-re", "-stream_loop", "-1", "-i", testpeer.Clip(t, testpeer.ClipH264Small),
		"-c", "copy", "-tls_verify", "1", "-ca_file", ca.CAFile, "-f", "flv", "rtmps://localhost:"+port(g.RTMPS)+"/live/tls")
	g.WaitReady(t, "live/tls", 20*time.Second)

	res := testpeer.FFprobe(t, ctx, "rtsps://localhost:"+port(g.RTSPS)+"/live/tls", "-rtsp_transport", "tcp", "-read_intervals", "%+2")
	if v, ok := res.Video(); !ok || v.Codec != "h264" || v.Packets <= 0 {
		t.Fatalf("ffprobe over RTSPS: %s", res.JSON)
	}
	res = testpeer.FFprobe(t, ctx, "https://localhost:"+port(g.HTTPS)+"/live/tls/index.m3u8",
		"-tls_verify", "1", "-ca_file", ca.CAFile, "-read_intervals", "%+2")
	if v, ok := res.Video(); !ok || v.Codec != "h264" || v.Packets <= 0 {
		t.Fatalf("ffprobe over HTTPS (LL-HLS): %s", res.JSON)
	}

	out, err := testpeer.Command(t, "curl", "-sS", "--cacert", ca.CAFile, "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
		"https://localhost:"+port(g.HTTPS)+"/healthz").CombinedOutput()
	if err != nil || string(out) != "200 2" {
		t.Fatalf("curl over HTTPS: %q %v, want 200 over HTTP/2", out, err)
	}
	out, _ = testpeer.Command(t, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:"+port(g.HTTPS)+"/healthz").CombinedOutput()
	if string(out) != "400" {
		t.Fatalf("plain HTTP on the HTTPS port: %q, want 400", out)
	}

	mq := []string{"--cafile", ca.CAFile, "-h", "localhost", "-p", port(g.MQTTS)}
	sub := testpeer.Start(t, "mosquitto_sub", append(mq, "-d", "-V", "mqttv311", "-F", "MSG %t %p", "-t", "skyrelay-test/tls")...)
	if _, err := sub.WaitOutput(ctx, "SUBACK"); err != nil {
		t.Fatal(err)
	}
	if out, err := testpeer.Command(t, "mosquitto_pub", append(mq, "-t", "skyrelay-test/tls", "-m", "over-tls")...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub over TLS: %v: %s", err, out)
	}
	if _, err := sub.WaitOutput(ctx, "MSG skyrelay-test/tls over-tls"); err != nil {
		t.Fatal(err)
	}
	if out, err := testpeer.Command(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", port(g.MQTTS), "-t", "x", "-m", "y").CombinedOutput(); err == nil {
		t.Fatalf("plain MQTT on the TLS port: %s", out)
	}

	// Rotation: the files change, the gateway serves the new certificate
	// to new connections within its poll, without a restart.
	before := ca.Serial
	ca.Issue("rotated")
	eventually(t, 20*time.Second, "the rotated certificate to be served", func() bool {
		c, err := tls.Dial("tcp", "127.0.0.1:"+port(g.HTTPS), &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"})
		if err != nil {
			return false
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Cmp(ca.Serial) == 0
	})
	if ca.Serial.Cmp(before) == 0 {
		t.Fatal("the test CA issued the same serial")
	}
	for name, min := range map[string]float64{
		`skyrelay_tls_plaintext_refused_total{listener="https"}`: 1,
		`skyrelay_tls_plaintext_refused_total{listener="mqtts"}`: 1,
		`skyrelay_tls_certificate_reloads_total{result="ok"}`:    1,
		`skyrelay_tls_certificate_not_after_seconds`:             float64(time.Now().Unix()),
	} {
		if v, ok := g.Metric(t, name); !ok || v < min {
			t.Errorf("%s = %v (found %v), want at least %v", name, v, ok, min)
		}
	}
}
