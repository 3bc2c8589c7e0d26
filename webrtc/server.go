package webrtc

import (
	"context"
	"errors"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
)

// Defaults of Server's optional fields.
const (
	DefaultListen           = ":8189"
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultStartTimeout     = 20 * time.Second
)

// Server is Skyrelay's WebRTC side: the shared ICE sockets and every peer
// connection on them. Fill the fields, call Initialize, plug WHEP() into
// the HTTP server, and Close to end every peer.
type Server struct {
	// Listen is webrtc.listen: one UDP and one TCP port (same number)
	// shared by all peers. An IPv4 host, or empty for all addresses; a
	// loopback host announces the loopback address (tests, same-host
	// proxies).
	Listen string
	// PublicIPs (webrtc.public_ips), when set, are the only addresses
	// announced in host candidates: the NAT's public address, a host name
	// (resolved once at start-up), the LAN address if LAN viewers should
	// connect directly.
	PublicIPs []string
	Hub       *gateway.Hub
	// Auth decides who may read; nil lets everyone read.
	Auth *authz.Auth
	Log  *slog.Logger
	// HandshakeTimeout bounds ICE plus DTLS after the answer.
	HandshakeTimeout time.Duration
	// StartTimeout bounds how long a WHEP request waits for its stream to
	// become playable, which includes starting a DJI video on demand.
	StartTimeout time.Duration
	// QueueSize bounds each viewer's frame queue (gateway.DefaultQueueSize
	// if 0); it must hold a whole GOP for the fast start.
	QueueSize int

	net *iceNet

	mu     sync.Mutex
	wheps  map[string]*whepSession // WHEP viewers (whepsession.go)
	whips  map[string]*whipSession // WHIP publishers (whipsession.go)
	closed bool
	wg     sync.WaitGroup

	addrMu sync.Mutex
	addrs  []ICEAddress
}

// Initialize opens the UDP and TCP listeners and finds out which addresses
// peers will be told.
func (s *Server) Initialize() error {
	if s.Hub == nil {
		return errors.New("webrtc: Server.Hub is required")
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.Listen == "" {
		s.Listen = DefaultListen
	}
	if s.HandshakeTimeout <= 0 {
		s.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if s.StartTimeout <= 0 {
		s.StartTimeout = DefaultStartTimeout
	}
	public, err := resolvePublic(s.PublicIPs)
	if err != nil {
		return err
	}
	n, err := openICE(s.Listen, pionLogs{log: s.Log})
	if err != nil {
		return err
	}
	n.public = public
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	addrs, err := n.probeAddresses(ctx)
	cancel()
	if err != nil {
		n.close()
		return err
	}
	s.net = n
	s.wheps = map[string]*whepSession{}
	s.setAddresses(addrs)

	strs := make([]string, len(addrs))
	for i, a := range addrs {
		strs[i] = a.String()
	}
	s.Log.Info("webrtc listening", "port", n.port(), "announced", strs)
	switch {
	case len(addrs) == 0:
		s.Log.Warn("webrtc announces no address: browsers cannot connect; set webrtc.public_ips")
	case len(public) == 0 && !n.loopback && privateOnly(addrs):
		s.Log.Warn("webrtc announces only private addresses: browsers outside this network will show nothing; set webrtc.public_ips", "announced", strs)
	}
	return nil
}

// Close ends every peer connection and closes the listeners.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed || s.net == nil {
		s.closed = true
		s.mu.Unlock()
		return
	}
	s.closed = true
	sessions := slices.Collect(maps.Values(s.wheps))
	s.mu.Unlock()
	for _, x := range sessions {
		x.stop("server closing")
	}
	for _, x := range s.whipSessions() {
		x.stop("server closing")
	}
	s.wg.Wait()
	s.net.close()
}

// WHEP is the handler for POST /P/whep and PATCH/DELETE /P/whep/ID.
func (s *Server) WHEP() gateway.PathHandler { return whepHandler{s} }

// WHIP is the handler for POST /P/whip and PATCH/DELETE /P/whip/ID: WHIP
// ingest on the same ICE sockets as WHEP (whip.go).
func (s *Server) WHIP() gateway.PathHandler { return whipHandler{s} }

// Port is the UDP and TCP port peers connect to.
func (s *Server) Port() int { return s.net.port() }

// ICEAddresses are the addresses the server announces in its ICE
// candidates: found by gathering at start-up, then taken from the latest
// answer. The API shows them because an unreachable address here is the
// first thing to check when a player shows nothing.
func (s *Server) ICEAddresses() []ICEAddress {
	s.addrMu.Lock()
	defer s.addrMu.Unlock()
	return slices.Clone(s.addrs)
}

func (s *Server) setAddresses(a []ICEAddress) {
	if len(a) == 0 {
		return
	}
	s.addrMu.Lock()
	s.addrs = a
	s.addrMu.Unlock()
}

// WHEPCount is the number of WHEP sessions, connected or connecting.
func (s *Server) WHEPCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.wheps)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed || s.net == nil
}

func (s *Server) whepSession(id string) *whepSession { return sessionByID(&s.mu, &s.wheps, id) }

func (s *Server) forgetWHEP(id string) { forgetSession(&s.mu, &s.wheps, id) }
