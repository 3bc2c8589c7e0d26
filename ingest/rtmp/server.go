package rtmp

import (
	"context"
	"errors"
	"fmt"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
)

// Defaults of the Server's tuning fields.
const (
	// DefaultTimeout is the ReadTimeout and WriteTimeout used when unset.
	DefaultTimeout = 10 * time.Second
	// DefaultStartTimeout bounds how long a player waits for a stream to
	// become playable, a DJI video started on demand included.
	DefaultStartTimeout = 10 * time.Second
	// DefaultTrackWait is how long after the first media frame a track that
	// may still come is waited for. Audio is interleaved with video within
	// a frame or two (20–40 ms), so 100 ms finds every real track and costs
	// a stream without onMetaData (FlightHub Sync) one tenth of a second.
	DefaultTrackWait = 100 * time.Millisecond
)

// Server is the RTMP listener for publishers and players. Fill the fields,
// call Initialize, and Close to end every connection.
type Server struct {
	// Address is the TCP listen address (rtmp.listen, ":1935"); port 0
	// picks a free port, see Addr.
	Address string
	Hub     *gateway.Hub
	// Auth decides who may publish and read; nil lets loopback publish and
	// everyone read.
	Auth *authz.Auth
	Log  *slog.Logger
	// TLS, when set, makes this server RTMPS (rtmp.tls_listen): every
	// connection accepted on Address starts with a TLS handshake, and one
	// in plain text is refused and counted. The plain listener is another
	// Server beside this one.
	TLS TLSListener
	// ReadTimeout ends a peer that sends nothing for this long (handshake
	// included); WriteTimeout bounds each write to a peer. Both default to
	// DefaultTimeout.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// StartTimeout is how long a player waits for the stream to become
	// playable (DefaultStartTimeout if 0).
	StartTimeout time.Duration
	// TrackWait is how long, after a publisher's first media frame, a track
	// that has not shown up yet but may still come (announced by
	// onMetaData, or anything when there is no onMetaData) is waited for
	// before the stream starts without it (DefaultTrackWait if 0; negative
	// means do not wait).
	TrackWait time.Duration

	// wrapConn, when set (tests), wraps each accepted connection, e.g. to
	// make a loopback peer look remote or to time the accept.
	wrapConn func(net.Conn) net.Conn

	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
}

// TLSListener turns a TCP listener into a TLS listener (tlscert.Holder).
type TLSListener interface {
	Listener(name string, inner net.Listener, nextProtos ...string) net.Listener
}

// Initialize opens the listener and starts accepting connections.
func (s *Server) Initialize() error {
	if s.Hub == nil {
		return errors.New("rtmp: no hub")
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.TLS != nil {
		s.Log = s.Log.With("component", "rtmps")
	} else {
		s.Log = s.Log.With("component", "rtmp")
	}
	if s.ReadTimeout <= 0 {
		s.ReadTimeout = DefaultTimeout
	}
	if s.WriteTimeout <= 0 {
		s.WriteTimeout = DefaultTimeout
	}
	if s.StartTimeout <= 0 {
		s.StartTimeout = DefaultStartTimeout
	}
	if s.TrackWait == 0 {
		s.TrackWait = DefaultTrackWait
	}
	if s.Auth == nil {
		s.Auth = &authz.Auth{}
	}
	ln, err := net.Listen("tcp", s.Address)
	if err != nil {
		return fmt.Errorf("rtmp: %w", err)
	}
	if s.TLS != nil {
		ln = s.TLS.Listener("rtmps", ln)
	}
	s.ln = ln
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.conns = map[*conn]struct{}{}
	s.wg.Add(1)
	go s.acceptLoop()
	s.Log.Info("listener opened", "address", ln.Addr().String())
	return nil
}

// scheme is the protocol players and the authorization hook see.
func (s *Server) scheme() string {
	if s.TLS != nil {
		return "rtmps"
	}
	return "rtmp"
}

// Addr is the address the listener is bound to (useful with port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the listener and ends every connection: publishers detach
// from their streams (which then wait the hub's grace period), players end.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	s.cancel()
	s.ln.Close()
	for c := range conns {
		c.nc.Close()
	}
	s.wg.Wait()
	s.Log.Info("listener closed")
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait a little, as
			// net/http does, instead of spinning or giving up.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.Log.Warn("accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-s.ctx.Done():
				return
			}
		}
		backoff = 0
		if s.wrapConn != nil {
			nc = s.wrapConn(nc)
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.run()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}
