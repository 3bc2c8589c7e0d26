package rtsp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/auth"

	"github.com/skyrelay/skyrelay/gateway"
)

// Defaults of the Server's tuning fields.
const (
	// DefaultStartTimeout bounds the wait of DESCRIBE and SETUP for a stream
	// to become playable, a DJI video started on demand included. Common
	// RTSP clients give up on a silent server after 10–20 s.
	DefaultStartTimeout = 10 * time.Second

	// writeQueueSize is the per-session queue of outbound packets (a power
	// of two). gortsplib's 256 holds a single large DJI keyframe (~250
	// packets at 1080p) with no room for a burst; 1024 rides one out.
	writeQueueSize = 1024
)

// Server is the RTSP server for publishers and readers. Fill the fields,
// call Initialize, and Close to end every connection.
type Server struct {
	// Address is the TCP listen address (rtsp.listen, ":8554"); port 0
	// picks a free port, see Addr.
	Address string
	// UDPRTPAddress and UDPRTCPAddress enable the UDP transport (":8000",
	// ":8001"): both or neither, RTP on an even port and RTCP on the next.
	// An RTP port of 0 picks a free pair (logged at start).
	UDPRTPAddress  string
	UDPRTCPAddress string
	Hub            *gateway.Hub
	// Auth decides who may publish and read; nil lets loopback publish and
	// everyone read.
	Auth *authz.Auth
	Log  *slog.Logger
	// TLS, when set, makes this server RTSPS (rtsp.tls_listen): every
	// connection accepted on Address starts with a TLS handshake, and one
	// in plain text is refused and counted. Media then goes interleaved in
	// the TLS connection: UDP must stay off, since plain RTP beside RTSPS
	// would give away what TLS protects. The plain server is another
	// Server beside this one.
	TLS TLSListener
	// ReadTimeout ends a publisher that sends nothing for this long (and
	// bounds request reads); WriteTimeout bounds each write to a client.
	// Both default to 10 s.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// StartTimeout is how long a reader's DESCRIBE or SETUP waits for the
	// stream to become playable (DefaultStartTimeout if 0).
	StartTimeout time.Duration

	// remoteOf, when set (tests), replaces a connection's remote address,
	// so that a test on loopback can play a publisher from elsewhere.
	remoteOf func(*gortsplib.ServerConn) net.Addr

	srv    *gortsplib.Server
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	outputs map[string]*output
	closed  bool

	rtpPort, rtcpPort int
	errLog            rateLimiter
}

// TLSListener serves the certificate of tls.cert_file (tlscert.Holder).
type TLSListener interface {
	Config() *tls.Config
	Listener(name string, inner net.Listener, nextProtos ...string) net.Listener
}

// Initialize opens the listeners and starts serving.
func (s *Server) Initialize() error {
	if s.Hub == nil {
		return errors.New("rtsp: no hub")
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.Auth == nil {
		s.Auth = &authz.Auth{}
	}
	if s.StartTimeout <= 0 {
		s.StartTimeout = DefaultStartTimeout
	}
	if s.Address == "" {
		s.Address = ":8554"
	}
	if s.TLS != nil && (s.UDPRTPAddress != "" || s.UDPRTCPAddress != "") {
		return errors.New("rtsps: RTSPS carries media in its TLS connection; leave the UDP addresses empty")
	}
	s.outputs = map[string]*output{}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	s.srv = &gortsplib.Server{
		Handler:        &handler{s: s},
		RTSPAddress:    s.Address,
		ReadTimeout:    s.ReadTimeout,
		WriteTimeout:   s.WriteTimeout,
		WriteQueueSize: writeQueueSize,
		// Basic only: the per-push secrets of the control plane are checked
		// as plain passwords, which Digest never reveals (see credentials.go).
		AuthMethods: []auth.VerifyMethod{auth.VerifyMethodBasic},
	}
	if s.TLS != nil {
		s.srv.TLSConfig = s.TLS.Config()
		s.srv.TLSListen = func(network, address string, _ *tls.Config) (net.Listener, error) {
			ln, err := net.Listen(network, address)
			if err != nil {
				return nil, err
			}
			return s.TLS.Listener("rtsps", ln), nil
		}
	}
	udp, err := s.udpListeners()
	if err != nil {
		s.cancel()
		return err
	}
	if udp != nil {
		s.srv.UDPRTPAddress, s.srv.UDPRTCPAddress = udp.rtpAddr, udp.rtcpAddr
		s.srv.ListenPacket = udp.listenPacket
	}
	if err := s.srv.Start(); err != nil {
		if udp != nil {
			udp.close()
		}
		s.cancel()
		return fmt.Errorf("rtsp: %w", err)
	}
	if udp != nil {
		s.rtpPort, s.rtcpPort = udp.rtpPort, udp.rtpPort+1
	}
	scheme := "RTSP"
	if s.TLS != nil {
		scheme = "RTSPS"
	}
	s.Log.Info(scheme+" server listening", "address", s.Addr().String(), "udp_rtp", s.rtpPort, "udp_rtcp", s.rtcpPort)
	return nil
}

// scheme is the protocol readers and the authorization hook see.
func (s *Server) scheme() string {
	if s.TLS != nil {
		return "rtsps"
	}
	return "rtsp"
}

// Addr is the bound TCP address (useful when Address asked for port 0).
func (s *Server) Addr() net.Addr { return s.srv.NetListener().Addr() }

// Close ends every connection, publisher and reader.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed || s.srv == nil {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel() // DESCRIBEs waiting for a stream give up
	// Closes every session; OnSessionClose detaches publishers and readers.
	s.srv.Close()
	// Outputs that a DESCRIBE made and no session used.
	s.mu.Lock()
	for _, o := range s.outputs {
		s.closeOutputLocked(o)
	}
	s.mu.Unlock()
}

// udpPair is the UDP configuration handed to gortsplib.
type udpPair struct {
	rtpAddr, rtcpAddr string
	rtpPort           int
	pre               map[string]*net.UDPConn // sockets bound ahead, by address
	mu                sync.Mutex
}

// udpListeners checks the UDP addresses and, for an RTP port of 0, binds a
// free even/odd pair (RFC 3550 §11) ahead, since gortsplib wants both ports
// named. It returns nil when UDP is off.
func (s *Server) udpListeners() (*udpPair, error) {
	if s.UDPRTPAddress == "" && s.UDPRTCPAddress == "" {
		return nil, nil
	}
	if s.UDPRTPAddress == "" || s.UDPRTCPAddress == "" {
		return nil, errors.New("rtsp: UDPRTPAddress and UDPRTCPAddress go together")
	}
	host, port, err := splitPort(s.UDPRTPAddress)
	if err != nil {
		return nil, fmt.Errorf("rtsp: UDP RTP address: %w", err)
	}
	if port != 0 {
		_, rtcp, err := splitPort(s.UDPRTCPAddress)
		if err != nil {
			return nil, fmt.Errorf("rtsp: UDP RTCP address: %w", err)
		}
		if port%2 != 0 || rtcp != port+1 {
			return nil, fmt.Errorf("rtsp: the UDP RTP port (%d) must be even and the RTCP port (%d) the next one", port, rtcp)
		}
		return &udpPair{rtpAddr: s.UDPRTPAddress, rtcpAddr: s.UDPRTCPAddress, rtpPort: port}, nil
	}
	ip := net.ParseIP(host)
	for range 64 {
		a, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
		if err != nil {
			return nil, fmt.Errorf("rtsp: %w", err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		if p%2 != 0 || p >= 65535 {
			a.Close()
			continue
		}
		b, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: p + 1})
		if err != nil {
			a.Close()
			continue
		}
		u := &udpPair{rtpPort: p,
			rtpAddr:  net.JoinHostPort(host, strconv.Itoa(p)),
			rtcpAddr: net.JoinHostPort(host, strconv.Itoa(p+1))}
		u.pre = map[string]*net.UDPConn{u.rtpAddr: a, u.rtcpAddr: b}
		return u, nil
	}
	return nil, errors.New("rtsp: no free UDP port pair")
}

// listenPacket hands gortsplib the sockets bound ahead.
func (u *udpPair) listenPacket(network, address string) (net.PacketConn, error) {
	u.mu.Lock()
	c := u.pre[address]
	delete(u.pre, address)
	u.mu.Unlock()
	if c != nil {
		return c, nil
	}
	return net.ListenPacket(network, address)
}

func (u *udpPair) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, c := range u.pre {
		c.Close()
	}
	u.pre = nil
}

func splitPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, n, nil
}
