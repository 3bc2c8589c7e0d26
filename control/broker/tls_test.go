package broker

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/gateway/tlscert"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// MQTT over TLS with Mosquitto's clients verifying the test CA: a device
// account subscribes and publishes; plain MQTT on the TLS port is refused
// and counted; a client trusting another CA cannot connect.
func TestEmbeddedTLSWithMosquittoClients(t *testing.T) {
	testpeer.Require(t, "mosquitto_sub", "mosquitto_pub")
	ca := testpeer.NewTestCA(t)
	h := &tlscert.Holder{CertFile: ca.CertFile, KeyFile: ca.KeyFile}
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	e := &Embedded{Config: conf.MQTTEmbedded{TLSListen: "127.0.0.1:0",
		Users: []conf.MQTTUser{{User: "DOCK1", Password: "dock1-password"}}},
		TLS: h, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := e.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if e.Addr() != "" {
		t.Fatalf("plain listener open at %s with listen empty", e.Addr())
	}
	_, port, _ := net.SplitHostPort(e.TLSAddr())
	tlsArgs := func(extra ...string) []string {
		return append([]string{"--cafile", ca.CAFile, "-h", "localhost", "-p", port, "-V", "mqttv311",
			"-u", "DOCK1", "-P", "dock1-password"}, extra...)
	}
	ctx := testpeer.Context(t, 30*time.Second)

	sub := testpeer.Start(t, "mosquitto_sub", tlsArgs("-d", "-q", "1", "-F", "MSG %t %p", "-t", "thing/product/DOCK1/services")...)
	if _, err := sub.WaitOutput(ctx, "SUBACK"); err != nil {
		t.Fatal(err)
	}
	if err := e.Publish(ctx, "thing/product/DOCK1/services", []byte(`{"method":"live_start_push"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.WaitOutput(ctx, `MSG thing/product/DOCK1/services {"method":"live_start_push"}`); err != nil {
		t.Fatal(err)
	}

	got := make(chan string, 4)
	if err := e.Subscribe([]string{"thing/product/+/osd"}, func(topic string, p []byte) { got <- topic + " " + string(p) }); err != nil {
		t.Fatal(err)
	}
	if out, err := testpeer.Command(t, "mosquitto_pub", tlsArgs("-q", "1", "-t", "thing/product/DOCK1/osd", "-m", `{"data":{}}`)...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub over TLS: %v: %s", err, out)
	}
	select {
	case m := <-got:
		if m != `thing/product/DOCK1/osd {"data":{}}` {
			t.Fatalf("got %q", m)
		}
	case <-ctx.Done():
		t.Fatal("the broker did not deliver what mosquitto_pub sent over TLS")
	}

	// Plain MQTT on the TLS port.
	if out, err := testpeer.Command(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-t", "x", "-m", "plain").CombinedOutput(); err == nil {
		t.Fatalf("plain MQTT published on the TLS port: %s", out)
	}
	if n := h.Plaintext("mqtts"); n != 1 {
		t.Fatalf("plain text counted %d, want 1", n)
	}
	// A client trusting another CA refuses the gateway's certificate.
	other := testpeer.NewTestCA(t)
	out, err := testpeer.Command(t, "mosquitto_pub", "--cafile", other.CAFile, "-h", "localhost", "-p", port, "-t", "x", "-m", "y").CombinedOutput()
	if err == nil {
		t.Fatal("mosquitto_pub accepted a certificate its CA did not sign")
	}
	if !strings.Contains(strings.ToLower(string(out)), "certificate") && !strings.Contains(strings.ToLower(string(out)), "tls") {
		t.Logf("mosquitto_pub with another CA: %s", out)
	}
}

// A client that connects to the TLS port and says nothing is dropped
// instead of holding a goroutine forever (mochi sets no deadline before
// CONNECT).
func TestEmbeddedTLSDropsSilentClients(t *testing.T) {
	old := connectWithin
	connectWithin = 200 * time.Millisecond
	t.Cleanup(func() { connectWithin = old })
	ca := testpeer.NewTestCA(t)
	h := &tlscert.Holder{CertFile: ca.CertFile, KeyFile: ca.KeyFile}
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	e := &Embedded{Config: conf.MQTTEmbedded{TLSListen: "127.0.0.1:0"}, TLS: h, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := e.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	c, err := net.Dial("tcp", e.TLSAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	_, err = c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("a silent client on the TLS port was kept for 10 s")
	}
	t.Logf("silent client dropped after %v", time.Since(start).Round(time.Millisecond))
}
