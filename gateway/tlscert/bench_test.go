package tlscert

import (
	"crypto/tls"
	"io"
	"net"
	"testing"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// BenchmarkHandshake: what a new TLS connection (a reconnecting dock, a
// viewer's first request) costs the gateway with the test CA's P-256
// certificate, client and server in one process.
func BenchmarkHandshake(b *testing.B) {
	ca, tl := benchListener(b)
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	cfg := &tls.Config{RootCAs: ca.Pool, ServerName: "localhost", ClientSessionCache: nil}
	for b.Loop() {
		c, err := tls.Dial("tcp", tl.Addr().String(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkThroughput: bytes a TLS connection moves per second of one core
// on loopback; a DJI stream is 3–8 Mbit/s.
func BenchmarkThroughput(b *testing.B) {
	ca, tl := benchListener(b)
	done := make(chan int64)
	go func() {
		c, err := tl.Accept()
		if err != nil {
			return
		}
		n, _ := io.Copy(io.Discard, c)
		done <- n
	}()
	c, err := tls.Dial("tcp", tl.Addr().String(), &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	<-done
}

// benchListener serves the test CA's certificate on a loopback TLS
// listener that closes when the benchmark ends.
func benchListener(b *testing.B) (*testpeer.TestCA, net.Listener) {
	ca := testpeer.NewTestCA(b)
	h := &Holder{CertFile: ca.CertFile, KeyFile: ca.KeyFile}
	if err := h.Initialize(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	tl := h.Listener("bench", ln)
	b.Cleanup(func() { tl.Close() })
	return ca, tl
}
