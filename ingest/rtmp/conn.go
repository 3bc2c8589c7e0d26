package rtmp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/skyrelay/skyrelay/gateway/tlscert"
)

// errRefused ends a connection that was told why with an onStatus error.
var errRefused = errors.New("refused")

// refuseLinger is how long a refused peer gets to read the reason before
// the connection closes.
const refuseLinger = time.Second

// conn is one RTMP connection: a publisher or a player.
type conn struct {
	s      *Server
	nc     net.Conn
	cc     *countConn
	sc     *gortmplib.ServerConn
	remote net.Addr
	log    *slog.Logger
	skips  skipLog
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		s:      s,
		nc:     nc,
		cc:     &countConn{Conn: nc},
		remote: nc.RemoteAddr(),
		log:    s.Log.With("remote", nc.RemoteAddr().String()),
	}
}

// run serves the connection until it ends. A panic in a library parsing
// hostile input ends this connection, never the process.
func (c *conn) run() {
	defer c.nc.Close()
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("connection ended by an internal error", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	err := c.serve()
	switch {
	case err == nil, errors.Is(err, errRefused):
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		c.log.Debug("connection closed")
	case notTLS(err):
		// Counted by the TLS listener (skyrelay_tls_plaintext_refused_total);
		// a scanner must not fill the log.
		c.log.Debug("connection refused: plain text on the RTMPS port")
	default:
		c.log.Info("connection closed", "reason", redact(err.Error()))
	}
}

func (c *conn) serve() error {
	// The handshake, connect and publish/play commands must all arrive
	// within one ReadTimeout: a peer that connects and says nothing, or
	// says something else than RTMP, is dropped.
	_ = c.nc.SetDeadline(time.Now().Add(c.s.ReadTimeout))
	c.sc = &gortmplib.ServerConn{RW: c.cc}
	if err := c.sc.Initialize(); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := c.sc.Accept(); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	_ = c.nc.SetDeadline(time.Time{})
	path, cred := streamPath(c.sc.URL)
	c.log = c.log.With("path", path)
	if c.sc.Publish {
		return c.publish(path, cred)
	}
	return c.play(path, cred)
}

// refuse tells the peer why it is turned away, with an onStatus error
// (ffmpeg prints it as "Server error: ..."), and gives it a moment to read
// that before the connection closes.
func (c *conn) refuse(code, description string) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.WriteTimeout))
	err := c.sc.Write(&message.CommandAMF0{
		ChunkStreamID:   5,
		MessageStreamID: 0x1000000,
		Name:            "onStatus",
		Arguments: []interface{}{
			nil,
			amf0.Object{
				{Key: "level", Value: "error"},
				{Key: "code", Value: code},
				{Key: "description", Value: description},
			},
		},
	})
	if err == nil {
		// Closing with unread input would reset the connection and could
		// discard the reason before the peer reads it: wait for the peer
		// to hang up instead, briefly.
		_ = c.nc.SetReadDeadline(time.Now().Add(refuseLinger))
		_, _ = io.Copy(io.Discard, c.nc)
	}
	return errRefused
}

// notTLS tells whether err ended a connection to the RTMPS port that did not
// start with a TLS handshake.
func notTLS(err error) bool {
	var rh tls.RecordHeaderError
	return errors.As(err, &rh) || errors.Is(err, tlscert.ErrPlaintext)
}
