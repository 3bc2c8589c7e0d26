package broker

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// tcpListener is MQTT over TCP. It replaces mochi's TCP listener, which
// logs every connection that ends with an error as a WARN with an empty
// message, for the most ordinary end of all: a device on a cellular link
// that drops its TCP connection without DISCONNECT. Here such an end is a
// debug line; a refused login is an info line; only a real fault (a
// broken packet, a protocol violation) is a warning, and it says so.
type tcpListener struct {
	id      string
	address string
	ln      net.Listener
	log     *slog.Logger
	end     atomic.Bool
}

var _ listeners.Listener = (*tcpListener)(nil)

func (l *tcpListener) ID() string       { return l.id }
func (l *tcpListener) Protocol() string { return "tcp" }

func (l *tcpListener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.address
}

func (l *tcpListener) Init(log *slog.Logger) error {
	l.log = log
	ln, err := net.Listen("tcp", l.address)
	if err != nil {
		return err
	}
	l.ln = ln
	return nil
}

func (l *tcpListener) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return // closed
		}
		go func() {
			err := establish(l.id, conn)
			if l.end.Load() {
				return
			}
			logEnd(l.log, conn.RemoteAddr(), err)
		}()
	}
}

func (l *tcpListener) Close(closeClients listeners.CloseFn) {
	if l.end.CompareAndSwap(false, true) && l.ln != nil {
		_ = l.ln.Close()
	}
	closeClients(l.id)
}

// logEnd logs how a client's connection ended, at the level it deserves.
func logEnd(log *slog.Logger, remote net.Addr, err error) {
	switch endKind(err) {
	case endNormal:
		log.Debug("MQTT client connection closed", "remote", remote, "error", err)
	case endRefused:
		log.Info("MQTT client refused", "remote", remote, "reason", err)
	default:
		log.Warn("MQTT client connection failed", "remote", remote, "error", err)
	}
}

const (
	endNormal = iota
	endRefused
	endFault
)

// endKind sorts the error a client's connection ended with.
func endKind(err error) int {
	var code packets.Code
	switch {
	case err == nil,
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, os.ErrDeadlineExceeded):
		// Closed without DISCONNECT, reset, or silent past its keepalive:
		// devices on cellular links do all of these; the plane's offline
		// sweep tells when a device is gone.
		return endNormal
	case errors.As(err, &code):
		switch code {
		case packets.CodeDisconnect, packets.CodeSuccess, packets.ErrKeepAliveTimeout,
			packets.CodeDisconnectWillMessage, packets.ErrSessionTakenOver, packets.ErrServerShuttingDown:
			return endNormal
		case packets.ErrBadUsernameOrPassword, packets.ErrNotAuthorized, packets.ErrClientIdentifierNotValid,
			packets.ErrServerBusy, packets.ErrServerUnavailable:
			return endRefused
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return endNormal
	}
	return endFault
}
