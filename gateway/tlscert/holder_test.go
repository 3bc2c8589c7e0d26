package tlscert

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

func newHolder(t *testing.T, ca *testpeer.TestCA, logs io.Writer) *Holder {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	h := &Holder{CertFile: ca.CertFile, KeyFile: ca.KeyFile, Poll: time.Hour, Log: slog.New(slog.NewTextHandler(logs, nil))}
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// serve accepts TLS connections on a loopback listener of h and completes
// their handshakes; handshake errors go to errs.
func serve(t *testing.T, h *Holder, name string) (addr string, errs chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := h.Listener(name, ln)
	t.Cleanup(func() { tl.Close() })
	errs = make(chan error, 16)
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				err := c.(*tls.Conn).Handshake()
				errs <- err
				if err == nil {
					io.Copy(io.Discard, c)
				}
			}()
		}
	}()
	return ln.Addr().String(), errs
}

// served dials addr and returns the serial number of the certificate it
// presents, verified against ca.
func served(t *testing.T, addr string, ca *testpeer.TestCA) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func TestInitializeRefusesBadPairs(t *testing.T) {
	ca := testpeer.NewTestCA(t)
	other := testpeer.NewTestCA(t)
	key, _ := os.ReadFile(ca.KeyFile)
	for _, tc := range []struct {
		name      string
		cert, key string
		want      string
	}{
		{"no files named", "", "", "both required"},
		{"missing cert", ca.CertFile + ".nope", ca.KeyFile, "certificate file"},
		{"missing key", ca.CertFile, ca.KeyFile + ".nope", "key file"},
		{"key of another certificate", other.CertFile, ca.KeyFile, "private key does not match"},
		{"key as certificate", ca.KeyFile, ca.KeyFile, "loading"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Holder{CertFile: tc.cert, KeyFile: tc.key, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			err := h.Initialize()
			if err == nil {
				h.Close()
				t.Fatal("Initialize accepted a bad pair")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			if bytes.Contains([]byte(err.Error()), key[30:60]) {
				t.Fatalf("error quotes the key: %q", err)
			}
		})
	}
}

func TestServesAndReloadsOnCheck(t *testing.T) {
	ca := testpeer.NewTestCA(t)
	var logs bytes.Buffer
	h := newHolder(t, ca, &logs)
	addr, _ := serve(t, h, "test")
	first := ca.Serial.String()
	if got := served(t, addr, ca); got != first {
		t.Fatalf("served serial %s, want %s", got, first)
	}
	// A connection open across the rotation keeps working.
	old, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	if err := h.Check(); err != nil || h.Reloads() != 0 {
		t.Fatalf("unchanged files: err %v, reloads %d", err, h.Reloads())
	}
	ca.Issue("rotated")
	if err := h.Check(); err != nil {
		t.Fatalf("Check after rotation: %v", err)
	}
	if h.Reloads() != 1 {
		t.Fatalf("reloads = %d, want 1", h.Reloads())
	}
	if got := served(t, addr, ca); got != ca.Serial.String() || got == first {
		t.Fatalf("after rotation served %s, want %s", got, ca.Serial)
	}
	if _, err := old.Write([]byte("still open")); err != nil {
		t.Fatalf("connection open across the rotation broke: %v", err)
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Fatalf("no reload in the log:\n%s", logs.String())
	}
	if k, _ := os.ReadFile(ca.KeyFile); strings.Contains(logs.String(), string(k[30:60])) {
		t.Fatal("the log quotes the key")
	}
}

// A rotation caught half way (new certificate, old key) keeps the old pair
// and logs once; the next check after the key is written loads the new one.
func TestHalfWrittenRotationKeepsOldPair(t *testing.T) {
	ca := testpeer.NewTestCA(t)
	var logs bytes.Buffer
	h := newHolder(t, ca, &logs)
	addr, _ := serve(t, h, "test")
	first := ca.Serial.String()

	other := testpeer.NewTestCA(t)
	cert, _ := os.ReadFile(other.CertFile)
	if err := os.WriteFile(ca.CertFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := h.Check(); err == nil {
			t.Fatal("a certificate without its key loaded")
		}
	}
	if got := served(t, addr, ca); got != first {
		t.Fatalf("served %s during a half rotation, want the old %s", got, first)
	}
	if n := strings.Count(logs.String(), "not reloaded"); n != 1 {
		t.Fatalf("the failing state was logged %d times, want once:\n%s", n, logs.String())
	}
	ca.Issue("complete")
	if err := h.Check(); err != nil {
		t.Fatalf("completed rotation: %v", err)
	}
	if got := served(t, addr, ca); got != ca.Serial.String() {
		t.Fatalf("served %s after the rotation completed, want %s", got, ca.Serial)
	}
}

// The poll loop alone picks up a rotation, no Check needed.
func TestPollPicksUpRotation(t *testing.T) {
	ca := testpeer.NewTestCA(t)
	h := &Holder{CertFile: ca.CertFile, KeyFile: ca.KeyFile, Poll: 10 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ca.Issue("polled")
	want := ca.Serial
	deadline := time.Now().Add(10 * time.Second)
	for h.Certificate().Leaf.SerialNumber.Cmp(want) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the poll loop did not load the rotated certificate")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPlaintextIsRefusedAndCounted(t *testing.T) {
	ca := testpeer.NewTestCA(t)
	h := newHolder(t, ca, nil)
	addr, errs := serve(t, h, "rtmps")

	for _, probe := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		{0x03, 1, 2, 3, 4, 5, 6, 7}, // an RTMP C0+C1
		{0x00},
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(probe)
		err = <-errs
		var rh tls.RecordHeaderError
		if !errors.As(err, &rh) && !errors.Is(err, ErrPlaintext) {
			t.Fatalf("plain text %q: handshake error %v, want a RecordHeaderError or ErrPlaintext", probe, err)
		}
		// The server closed the connection.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("plain text %q: connection not closed: %v", probe, err)
		}
		c.Close()
	}
	// A peer that says nothing and leaves is not plain text.
	c, _ := net.Dial("tcp", addr)
	c.Close()
	<-errs
	// Nor is a TLS client.
	served(t, addr, ca)
	if err := <-errs; err != nil {
		t.Fatalf("TLS client: %v", err)
	}
	if n := h.Plaintext("rtmps"); n != 3 {
		t.Fatalf("plaintext counted %d, want 3", n)
	}
	if n := h.Plaintext("https"); n != 0 {
		t.Fatalf("another listener counted %d", n)
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(h.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			found[mf.GetName()] += v
		}
	}
	if found["skyrelay_tls_plaintext_refused_total"] != 3 {
		t.Fatalf("metrics: %v", found)
	}
	if found["skyrelay_tls_certificate_not_after_seconds"] < float64(time.Now().Unix()) {
		t.Fatalf("expiry gauge: %v", found)
	}
}
