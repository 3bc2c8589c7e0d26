package broker

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// TLSListener turns a TCP listener into a TLS listener (tlscert.Holder).
type TLSListener interface {
	Listener(name string, inner net.Listener, nextProtos ...string) net.Listener
}

// connectWithin bounds how long a client on the TLS port may take to
// finish its handshake and send CONNECT. mochi sets a connection's
// deadline from its keepalive only after CONNECT; before that a silent
// client would hold its goroutine forever.
var connectWithin = 10 * time.Second

// listenTLS opens mqtt.embedded.tls_listen: MQTT over TLS with the
// gateway's certificate; plain text on it is refused and counted
// (skyrelay_tls_plaintext_refused_total{listener="mqtts"}).
func (e *Embedded) listenTLS() error {
	if e.TLS == nil {
		return errors.New("mqtt.embedded.tls_listen needs tls.cert_file and tls.key_file")
	}
	ln, err := net.Listen("tcp", e.Config.TLSListen)
	if err != nil {
		return fmt.Errorf("tls_listen %s: %w", e.Config.TLSListen, err)
	}
	e.tlsLn = e.TLS.Listener("mqtts", ln)
	if err := e.server.AddListener(listeners.NewNet("tls", connectDeadline{e.tlsLn})); err != nil {
		e.tlsLn.Close()
		return fmt.Errorf("tls_listen %s: %w", e.Config.TLSListen, err)
	}
	return nil
}

// connectDeadline gives every accepted connection connectWithin to reach
// CONNECT; mochi replaces the deadline once it has read it.
type connectDeadline struct{ net.Listener }

func (l connectDeadline) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		_ = c.SetDeadline(time.Now().Add(connectWithin))
	}
	return c, err
}
