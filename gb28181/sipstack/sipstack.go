// Package sipstack starts and stops one SIP endpoint of the gateway: a UDP
// socket and a TCP listener on one port, the sipgo user agent with its
// server and client handles, and sipgo's logging routed through siplog so
// that unparseable input is counted (skyrelay_sip_unparsed_total) rather
// than logged in full. The GB28181 platform (devices register to it) and
// each cascade upstream (it registers to an upper platform) own one.
//
// Use: fill a Stack, Initialize (binds and builds, serves nothing yet),
// register the request handlers on Server, Serve, and Close.
// Respond is the one way both answer a request.
package sipstack

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/skyrelay/skyrelay/gb28181/siplog"
)

// Stack is one SIP endpoint.
type Stack struct {
	// Listen is the host:port of the UDP socket and the TCP listener; port
	// 0 picks a port free for both.
	Listen string
	// Hostname is the user agent's hostname (a 10-digit GB domain).
	Hostname string
	// PublicHost is the host of Via and Contact in the requests we send.
	PublicHost string
	// SendFromListener makes requests over UDP leave from the listening
	// socket, so that a NAT binding and the peer's requests back take the
	// same path. Without it sipgo sends from a socket of its own.
	SendFromListener bool
	// Log gets sipgo's lines (with layer=sip).
	Log *slog.Logger

	// Server takes the request handlers between Initialize and Serve;
	// Client sends requests. Both are set by Initialize.
	Server *sipgo.Server
	Client *sipgo.Client

	ua   *sipgo.UserAgent
	udp  net.PacketConn
	tcp  net.Listener
	host string
	port int
	wg   sync.WaitGroup
	once sync.Once
}

// Initialize binds the two sockets and builds the user agent, server and
// client. Nothing is served until Serve; on error nothing stays open.
func (s *Stack) Initialize() error {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if err := s.listen(); err != nil {
		return err
	}
	if err := s.build(); err != nil {
		s.closeSockets()
		return err
	}
	return nil
}

// listen binds UDP and TCP on one port; with port 0 it tries other
// ephemeral ports while the TCP side of the one UDP got is taken.
func (s *Stack) listen() error {
	host, portStr, err := net.SplitHostPort(s.Listen)
	if err != nil {
		return fmt.Errorf("sip_listen: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("sip_listen: bad port %q", portStr)
	}
	s.host = host
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("SIP over UDP: %w", err)
		}
		got := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(got)))
		if err != nil {
			pc.Close()
			if port == 0 && attempt < 20 {
				continue
			}
			return fmt.Errorf("SIP over TCP: %w", err)
		}
		s.udp, s.tcp, s.port = pc, ln, got
		return nil
	}
}

func (s *Stack) build() error {
	l := siplog.Logger(s.Log.With("layer", "sip"))
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("Skyrelay"), sipgo.WithUserAgentHostname(s.Hostname),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(l)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(l)))
	if err != nil {
		return err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(l))
	if err != nil {
		ua.Close()
		return err
	}
	opts := []sipgo.ClientOption{sipgo.WithClientHostname(s.PublicHost), sipgo.WithClientPort(s.port), sipgo.WithClientLogger(l)}
	if s.SendFromListener {
		opts = append(opts, sipgo.WithClientConnectionAddr(s.udp.LocalAddr().String()))
	}
	cli, err := sipgo.NewClient(ua, opts...)
	if err != nil {
		ua.Close()
		return err
	}
	s.ua, s.Server, s.Client = ua, srv, cli
	return nil
}

// Serve serves the two sockets; the handlers must be on Server by now.
// With SendFromListener it returns once the transport layer knows the UDP
// socket, since requests cannot leave from it before. After an error the
// caller still calls Close.
func (s *Stack) Serve() error {
	s.wg.Add(2)
	go func() { defer s.wg.Done(); _ = s.Server.ServeUDP(s.udp) }()
	go func() { defer s.wg.Done(); _ = s.Server.ServeTCP(s.tcp) }()
	if !s.SendFromListener {
		return nil
	}
	laddr := s.udp.LocalAddr().String()
	for i := 0; ; i++ {
		if c, _ := s.ua.TransportLayer().GetConnection("udp", laddr); c != nil {
			return nil
		}
		if i == 2000 {
			return errors.New("UDP listener did not start")
		}
		time.Sleep(time.Millisecond) // sipgo offers no event for it
	}
}

// Respond answers req on tx with code, reason and hdrs. A response that
// cannot be sent (the transaction ended, the connection went) is worth only
// a DEBUG line on log: the peer retransmits or gives up by itself.
func Respond(log *slog.Logger, tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		log.Debug("SIP response not sent", "method", req.Method, "code", code, "error", err)
	}
}

// Port is the bound port (UDP and TCP).
func (s *Stack) Port() int { return s.port }

// Host is the host part of Listen ("" for all interfaces).
func (s *Stack) Host() string { return s.host }

// Close closes the sockets first, so that no new input or TCP connection
// comes in, then the user agent (its transactions and the connections it
// holds), and waits for the serving goroutines. Later calls do nothing.
func (s *Stack) Close() {
	s.once.Do(func() {
		s.closeSockets()
		if s.ua != nil {
			s.ua.Close()
		}
		s.wg.Wait()
	})
}

// closeSockets closes either socket that is open (a nil *net.UDPConn in
// the interface would panic, hence the checks on the interfaces).
func (s *Stack) closeSockets() {
	if s.udp != nil {
		s.udp.Close()
	}
	if s.tcp != nil {
		s.tcp.Close()
	}
}
