package tlscert

import (
	"crypto/tls"
	"errors"
	"net"
	"sync/atomic"
)

// recordTypeHandshake is the first byte of every TLS connection: the record
// type of the ClientHello.
const recordTypeHandshake = 0x16

// Listener wraps inner into a TLS listener serving the holder's pair, for
// the listener called name (rtmps, rtsps, https, mqtts: the label of the
// plain-text counter). nextProtos are offered in ALPN ("h2", "http/1.1"
// for HTTPS).
//
// A peer whose first byte is not a TLS handshake record (ffmpeg sending
// rtmp:// to the RTMPS port, curl sending http:// to the HTTPS port) is
// counted; the TLS handshake then fails with tls.RecordHeaderError and the
// server using the listener closes the connection (net/http first answers
// "400 Client sent an HTTP request to an HTTPS server"). The check happens
// in the connection's first read, in the server's connection goroutine, so
// a silent peer never blocks Accept.
func (h *Holder) Listener(name string, inner net.Listener, nextProtos ...string) net.Listener {
	cfg := h.Config()
	cfg.NextProtos = nextProtos
	return &listener{Listener: inner, cfg: cfg, plaintext: h.metrics.plaintextCounter(name)}
}

type listener struct {
	net.Listener
	cfg       *tls.Config
	plaintext *atomic.Uint64
}

// Accept returns the next connection as an unhandshaken *tls.Conn.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(&sniffConn{Conn: c, plaintext: l.plaintext}, l.cfg), nil
}

// ErrPlaintext ends a connection that spoke plain text to a TLS port.
var ErrPlaintext = errors.New("tls: plain text on a TLS port")

// sniffConn looks at the first byte the peer sends. Plain text is handed to
// the TLS stack once, so that its error says what was seen, and any further
// read fails at once: a peer that sent a byte or two is not waited for.
type sniffConn struct {
	net.Conn
	plaintext *atomic.Uint64
	// Only the TLS handshake reads before the first byte was seen, and a
	// plain-text connection never gets past its handshake.
	seen, plain bool
}

func (c *sniffConn) Read(b []byte) (int, error) {
	if c.plain {
		return 0, ErrPlaintext
	}
	n, err := c.Conn.Read(b)
	if !c.seen && n > 0 {
		c.seen = true
		if b[0] != recordTypeHandshake {
			c.plain = true
			c.plaintext.Add(1)
		}
	}
	return n, err
}

// NetConn returns the TCP connection underneath, for socket options.
func (c *sniffConn) NetConn() net.Conn { return c.Conn }
