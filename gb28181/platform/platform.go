package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gb28181/gbid"
	"github.com/skyrelay/skyrelay/gb28181/sipstack"
)

// Defaults of the Platform's optional fields (docs/configuration.md for the keys).
const (
	DefaultSIPListen         = ":5060"
	DefaultMediaPorts        = "30000-30499"
	DefaultDomain            = "3402000000"
	DefaultServerID          = "34020000002000000001"
	DefaultKeepaliveInterval = 60 * time.Second
	DefaultInviteTimeout     = 10 * time.Second
	DefaultMediaTimeout      = 20 * time.Second
	// MissedKeepalives is how many keepalive intervals may pass without a
	// word from a device before it counts as offline (GB/T 28181-2016
	// §9.6: three by default).
	MissedKeepalives = 3
)

// Platform is the GB/T 28181 platform. Fill the fields, call Initialize, and
// Close to end every session and listener.
type Platform struct {
	// SIPListen is the UDP and TCP address for SIP (gb28181.sip_listen,
	// ":5060"). Port 0 picks a port free for both; see SIPPort.
	SIPListen string
	// MediaPorts is the range ("30000-30499") each session takes one port
	// from, with a UDP socket and a TCP listener on it.
	MediaPorts string
	// Domain is the 10-digit SIP domain (the digest realm) and ServerID the
	// platform's 20-digit id.
	Domain, ServerID string
	// Password is the default device password. Devices with a password set
	// by SetDevicePassword use theirs instead. With neither, a device
	// cannot register: the platform never lets a device in without a
	// password.
	Password string
	// PublicHost is the address devices reach this gateway on: it goes into
	// the SDP c= line, Via and Contact. Empty: the first non-loopback IPv4
	// address, else the SIP listen host.
	PublicHost string
	Hub        *gateway.Hub
	Log        *slog.Logger

	// OnRegister, when set, is called (in its own goroutine, after the 200)
	// when a device registers anew: first time, after it expired, was
	// offline or unregistered, or with a new Call-ID (it restarted).
	// Registration refreshes do not call it.
	OnRegister func(deviceID string)
	// OnDeviceEvent, when set, is told when a device goes offline (it
	// stopped keeping alive, its registration expired, it unregistered or
	// its push was revoked) and when it comes back. It is called from the
	// platform's goroutines, never with locks held, and must not block.
	OnDeviceEvent func(DeviceEvent)

	// KeepaliveInterval is the keepalive period devices are expected to
	// use (60 s); MissedKeepalives of them without a word and the device is
	// offline.
	KeepaliveInterval time.Duration
	// DigestQOP adds qop="auth" to the REGISTER challenge. Answers with and
	// without qop are accepted either way; some devices only understand
	// RFC 2069-style challenges, so it is off by default.
	DigestQOP bool
	// InviteTimeout bounds the wait for a device's answer to an INVITE
	// (10 s) when the caller's context has no earlier deadline.
	InviteTimeout time.Duration
	// MediaTimeout ends a session (with a BYE) that receives no RTP for this
	// long, also before the first packet (20 s).
	MediaTimeout time.Duration

	// PushTransport is how minted pushes (MintPush) get their media: "tcp"
	// (default: TCP/RTP/AVP, a=setup:passive, the device connects to the
	// media port, which crosses NAT) or "udp".
	PushTransport string
	// PlayTransport is how channels of registered devices played on demand
	// or through the API get their media: "udp" (default: RTP/AVP, what
	// every GB/T 28181 device supports) or "tcp" (TCP/RTP/AVP, the device
	// connects to the media port).
	PlayTransport string
	// IdleStopAfter ends a channel played on demand once it has had no
	// viewer for this long (control.idle_stop_after; 0: never).
	IdleStopAfter time.Duration

	// AgentLocalPort is the localPort of minted url_type 3 urls: the SIP
	// port the device binds on its side (5060).
	AgentLocalPort int

	now func() time.Time // clock, replaced in tests

	stack    *sipstack.Stack
	cli      *sipgo.Client // stack.Client
	port     int           // stack.Port()
	listenIP string
	ports    *portPool
	nonces   *nonceSigner
	metrics  *metrics

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	devices   map[string]*device
	passwords map[string]string
	sessions  map[string]*Session      // by Call-ID
	mints     map[string]*mint         // by path
	revoked   map[string]time.Time     // agent ids of revoked pushes, refused
	starting  map[string]chan struct{} // INVITEs in flight for plays, by device/channel
	closed    bool

	sn   atomic.Uint32 // MANSCDP SN of our queries
	ssrc atomic.Uint32 // sequence part of the y= SSRC
}

// Initialize checks the configuration, binds the SIP listeners and starts
// serving.
func (p *Platform) Initialize() error {
	if p.Hub == nil {
		return errors.New("gb28181: no hub")
	}
	if p.Log == nil {
		p.Log = slog.Default()
	}
	p.Log = p.Log.With("component", "gb28181")
	if p.now == nil {
		p.now = time.Now
	}
	if p.SIPListen == "" {
		p.SIPListen = DefaultSIPListen
	}
	if p.MediaPorts == "" {
		p.MediaPorts = DefaultMediaPorts
	}
	if p.Domain == "" {
		p.Domain = DefaultDomain
	}
	if p.ServerID == "" {
		p.ServerID = DefaultServerID
	}
	if !gbid.Digits(p.Domain, 10) {
		return fmt.Errorf("gb28181.domain must be 10 digits, not %q", p.Domain)
	}
	if !gbid.Digits(p.ServerID, 20) {
		return fmt.Errorf("gb28181.server_id must be 20 digits, not %q", p.ServerID)
	}
	if p.KeepaliveInterval <= 0 {
		p.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if p.InviteTimeout <= 0 {
		p.InviteTimeout = DefaultInviteTimeout
	}
	if p.MediaTimeout <= 0 {
		p.MediaTimeout = DefaultMediaTimeout
	}
	switch p.PushTransport = strings.ToLower(p.PushTransport); p.PushTransport {
	case "":
		p.PushTransport = "tcp"
	case "tcp", "udp":
	default:
		return fmt.Errorf("gb28181: push transport must be tcp or udp, not %q", p.PushTransport)
	}
	switch p.PlayTransport = strings.ToLower(p.PlayTransport); p.PlayTransport {
	case "":
		p.PlayTransport = "udp"
	case "tcp", "udp":
	default:
		return fmt.Errorf("gb28181: play transport must be tcp or udp, not %q", p.PlayTransport)
	}
	if p.AgentLocalPort <= 0 {
		p.AgentLocalPort = 5060
	}
	lo, hi, err := parsePortRange(p.MediaPorts)
	if err != nil {
		return fmt.Errorf("gb28181.media_ports: %w", err)
	}
	host, _, err := net.SplitHostPort(p.SIPListen)
	if err != nil {
		return fmt.Errorf("gb28181.sip_listen: %w", err)
	}
	p.listenIP = host
	p.ports = newPortPool(host, lo, hi)
	if p.nonces, err = newNonceSigner(); err != nil {
		return err
	}
	if p.PublicHost == "" {
		p.PublicHost = defaultPublicHost(host)
	}
	p.devices = map[string]*device{}
	p.passwords = map[string]string{}
	p.sessions = map[string]*Session{}
	p.mints = map[string]*mint{}
	p.revoked = map[string]time.Time{}
	p.starting = map[string]chan struct{}{}
	p.mu.Lock()
	if p.metrics == nil {
		p.metrics = newMetrics(p)
	}
	p.mu.Unlock()
	p.ctx, p.cancel = context.WithCancel(context.Background())

	if err := p.startSIP(); err != nil {
		p.cancel()
		return err
	}
	p.Log.Info("GB28181 platform listening", "sip", net.JoinHostPort(host, strconv.Itoa(p.port)),
		"media_ports", p.MediaPorts, "domain", p.Domain, "server_id", p.ServerID, "public_host", p.PublicHost)
	return nil
}

// startSIP binds the SIP port (UDP and TCP), routes the devices' requests
// and serves.
func (p *Platform) startSIP() error {
	st := &sipstack.Stack{Listen: p.SIPListen, Hostname: p.Domain, PublicHost: p.PublicHost, Log: p.Log}
	if err := st.Initialize(); err != nil {
		return fmt.Errorf("gb28181: %w", err)
	}
	p.stack, p.cli, p.port = st, st.Client, st.Port()
	srv := st.Server
	srv.OnRegister(p.onRegister)
	srv.OnMessage(p.onMessage)
	srv.OnBye(p.onBye)
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {}) // nothing we answered needs one
	srv.OnNotify(p.onNotify)
	srv.OnInfo(p.answerOK)
	srv.OnOptions(p.answerOK)
	srv.OnInvite(p.onInvite)
	if err := st.Serve(); err != nil {
		st.Close()
		return fmt.Errorf("gb28181: %w", err)
	}
	p.wg.Add(1)
	go p.watchPresence()
	return nil
}

// SIPPort is the bound SIP port (UDP and TCP), useful when SIPListen asked
// for port 0.
func (p *Platform) SIPPort() int { return p.port }

// Close sends BYE to every session, ends them and closes the listeners.
func (p *Platform) Close() {
	p.mu.Lock()
	if p.closed || p.ctx == nil {
		p.mu.Unlock()
		return
	}
	p.closed = true
	sessions := make([]*Session, 0, len(p.sessions))
	for _, s := range p.sessions {
		sessions = append(sessions, s)
	}
	p.mu.Unlock()

	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			s.end(ctx, true, errClosed)
		}()
	}
	wg.Wait()
	p.cancel()
	p.stack.Close()
	p.wg.Wait()
	p.Log.Info("GB28181 platform closed")
}

var errClosed = errors.New("gb28181: platform closed")

// answerOK answers 200 to requests that need nothing else.
func (p *Platform) answerOK(req *sip.Request, tx sip.ServerTransaction) {
	p.respond(tx, req, 200, "OK")
}

// onInvite refuses calls: devices do not call the platform for live video
// (voice broadcast, where they would, is not supported).
func (p *Platform) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	p.respond(tx, req, 488, "Not Acceptable Here")
}

func (p *Platform) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	sipstack.Respond(p.Log, tx, req, code, reason, hdrs...)
}

// defaultPublicHost is the first non-loopback IPv4 address, or the listen
// host, or loopback.
func defaultPublicHost(listenHost string) string {
	if ip := net.ParseIP(listenHost); ip != nil && !ip.IsUnspecified() {
		return listenHost
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}
