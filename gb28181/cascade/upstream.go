package cascade

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

// Defaults of an upstream's optional fields.
const (
	DefaultRegisterExpires   = time.Hour
	DefaultKeepaliveInterval = time.Minute
	DefaultRetryMin          = 5 * time.Second
	DefaultRetryMax          = time.Minute
	DefaultRequestTimeout    = 5 * time.Second
	DefaultInviteWait        = 15 * time.Second
	DefaultAckTimeout        = 10 * time.Second
	// MissedKeepalives unanswered (or refused) keepalives make the upstream
	// offline (GB/T 28181-2016 §9.6.1: three).
	MissedKeepalives = 3
)

// States of an upstream's registration.
const (
	StateRegistering = "registering" // first REGISTER under way
	StateRegistered  = "registered"
	StateOffline     = "offline" // refused or unreachable: retrying with back-off
	StateClosed      = "closed"
)

// UpstreamConfig is one gb28181.upstreams entry (docs/gb28181-cascade.md).
type UpstreamConfig struct {
	Name              string
	Address           string // host:port of the upper platform's SIP
	Transport         string // udp (default) or tcp
	ServerID          string // its 20-digit id
	Domain            string // its 10-digit domain (default ServerID[:10])
	LocalID           string // the id we register with (default the gateway's server_id)
	Password          string
	RegisterExpires   time.Duration
	KeepaliveInterval time.Duration
	Channels          []string // path globs offered; empty: everything
}

// Upstream is one upper platform this gateway registers to. Fill the
// fields, call Initialize, and Close to unregister and hang up.
type Upstream struct {
	UpstreamConfig
	// SIPListen is the local address of this upstream's SIP socket (UDP and
	// TCP on one port); empty: an ephemeral port on all interfaces.
	SIPListen string
	// PublicHost is the address the upstream reaches us on (Contact, Via,
	// SDP c=); empty: the local address of the route to the upstream.
	PublicHost string
	// CatalogGroup is the number of items per Catalog MESSAGE (1 over UDP,
	// as wvp does, since sipgo refuses UDP messages over 1300 bytes; 20
	// over TCP).
	CatalogGroup int
	// RetryMin and RetryMax bound the back-off between failed
	// registrations.
	RetryMin, RetryMax time.Duration
	// RequestTimeout bounds each request we send (5 s, and at most the
	// keepalive interval).
	RequestTimeout time.Duration
	// InviteWait bounds how long an INVITE waits for its stream to become
	// playable (a DJI camera started on demand); AckTimeout how long a 200
	// waits for its ACK.
	InviteWait, AckTimeout time.Duration

	Hub       *gateway.Hub
	Devices   ChannelSource
	Starter   Starter
	Positions PositionSource
	Log       *slog.Logger

	ids      *ids
	gwID     string // LocalID
	domain   string // the upstream's domain
	stack    *sipstack.Stack
	cli      *sipgo.Client // stack.Client
	dlgs     *sipgo.DialogServerCache
	port     int // stack.Port()
	listenIP string
	upHost   string // the upstream's host, for the source check
	stats    counters

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}

	mu         sync.Mutex
	state      string
	lastErr    string
	regAt      time.Time
	lastKA     time.Time // last keepalive answer
	lastKACode int
	callID     string
	fromTag    string
	cseq       uint32
	sessions   map[string]*session // by Call-ID
	subs       map[string]*subscription
	closed     bool
	changed    chan struct{} // closed and replaced at every state change

	sn   atomic.Uint32
	ssrc atomic.Uint32
}

// counters are the upstream's metrics, plain atomics read on scrape.
type counters struct {
	registers, registerFailures, keepalives, keepaliveFailures atomic.Uint64
	requests, badRequests, catalogs, invites, invitesRefused   atomic.Uint64
	sessionsEnded, notifies, rtpPackets, rtpBytes              atomic.Uint64
}

// Initialize checks the configuration, binds the SIP socket and starts
// registering.
func (u *Upstream) Initialize() error {
	if u.Hub == nil {
		return errors.New("cascade: no hub")
	}
	if u.Log == nil {
		u.Log = slog.Default()
	}
	u.Log = u.Log.With("upstream", u.Name)
	if u.Name == "" {
		return errors.New("cascade: an upstream needs a name")
	}
	host, port, err := net.SplitHostPort(u.Address)
	if err != nil || host == "" {
		return fmt.Errorf("cascade: upstream %s: address %q must be host:port", u.Name, u.Address)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return fmt.Errorf("cascade: upstream %s: bad port in %q", u.Name, u.Address)
	}
	u.upHost = host
	u.Transport = strings.ToLower(u.Transport)
	switch u.Transport {
	case "":
		u.Transport = "udp"
	case "udp", "tcp":
	default:
		return fmt.Errorf("cascade: upstream %s: transport must be udp or tcp, not %q", u.Name, u.Transport)
	}
	if !gbid.Digits(u.ServerID, 20) {
		return fmt.Errorf("cascade: upstream %s: server_id must be 20 digits, not %q", u.Name, u.ServerID)
	}
	if u.Domain == "" {
		u.Domain = u.ServerID[:10]
	}
	if !gbid.Digits(u.Domain, 10) {
		return fmt.Errorf("cascade: upstream %s: domain must be 10 digits, not %q", u.Name, u.Domain)
	}
	if !gbid.Digits(u.LocalID, 20) {
		return fmt.Errorf("cascade: upstream %s: local_id must be 20 digits, not %q", u.Name, u.LocalID)
	}
	u.gwID, u.domain = u.LocalID, u.Domain
	if u.RegisterExpires <= 0 {
		u.RegisterExpires = DefaultRegisterExpires
	}
	if u.KeepaliveInterval <= 0 {
		u.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if u.RetryMin <= 0 {
		u.RetryMin = DefaultRetryMin
	}
	if u.RetryMax < u.RetryMin {
		u.RetryMax = max(DefaultRetryMax, u.RetryMin)
	}
	if u.RequestTimeout <= 0 {
		u.RequestTimeout = DefaultRequestTimeout
	}
	u.RequestTimeout = min(u.RequestTimeout, u.KeepaliveInterval)
	if u.InviteWait <= 0 {
		u.InviteWait = DefaultInviteWait
	}
	if u.AckTimeout <= 0 {
		u.AckTimeout = DefaultAckTimeout
	}
	if u.CatalogGroup <= 0 {
		u.CatalogGroup = 1
		if u.Transport == "tcp" {
			u.CatalogGroup = 20
		}
	}
	if u.SIPListen == "" {
		u.SIPListen = ":0"
	}
	if u.PublicHost == "" {
		u.PublicHost = routeHost(u.Address)
	}
	u.ids = newIDs(u.gwID)
	u.sessions = map[string]*session{}
	u.subs = map[string]*subscription{}
	u.state = StateRegistering
	u.changed = make(chan struct{})
	u.done = make(chan struct{})
	u.ctx, u.cancel = context.WithCancel(context.Background())
	if err := u.startSIP(); err != nil {
		u.cancel()
		return err
	}
	u.Log.Info("GB28181 upstream configured", "address", u.Address, "transport", u.Transport,
		"server_id", u.ServerID, "local_id", u.gwID, "sip_port", u.port, "public_host", u.PublicHost)
	go u.run()
	return nil
}

// routeHost is the local address the system routes to addr from, which is
// what the upstream sees us as when no NAT sits in between.
func routeHost(addr string) string {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return "127.0.0.1"
	}
	defer c.Close()
	h, _, _ := net.SplitHostPort(c.LocalAddr().String())
	return h
}

// closeSockets closes a UDP socket and a TCP listener, either of which may
// be nil (a nil interface: a nil *net.UDPConn in pc would panic).
func closeSockets(pc net.PacketConn, ln net.Listener) {
	if pc != nil {
		pc.Close()
	}
	if ln != nil {
		ln.Close()
	}
}

// startSIP binds the SIP socket, routes the upstream's requests and serves.
func (u *Upstream) startSIP() error {
	st := &sipstack.Stack{
		Listen: u.SIPListen, Hostname: u.gwID[:10], PublicHost: u.PublicHost,
		// Requests leave from the socket we listen on, so that the NAT
		// binding and the upstream's requests back use the same path.
		SendFromListener: u.Transport == "udp",
		Log:              u.Log,
	}
	if err := st.Initialize(); err != nil {
		return fmt.Errorf("cascade: upstream %s: %w", u.Name, err)
	}
	u.stack, u.cli, u.port, u.listenIP = st, st.Client, st.Port(), st.Host()
	u.dlgs = sipgo.NewDialogServerCache(u.cli, sip.ContactHeader{Address: u.contactURI()})
	srv := st.Server
	srv.OnMessage(u.guard(u.onMessage))
	srv.OnInvite(u.guard(u.onInvite))
	srv.OnAck(u.onAck)
	srv.OnBye(u.guard(u.onBye))
	srv.OnSubscribe(u.guard(u.onSubscribe))
	srv.OnOptions(u.guard(u.answerOK))
	srv.OnInfo(u.guard(u.onInfo))
	srv.OnNotify(u.guard(u.answerOK))
	srv.OnCancel(u.answerOK)
	if err := st.Serve(); err != nil {
		st.Close()
		return fmt.Errorf("cascade: %w", err)
	}
	return nil
}

// contactURI is where the upstream sends its requests.
func (u *Upstream) contactURI() sip.Uri {
	c := sip.Uri{Scheme: "sip", User: u.gwID, Host: u.PublicHost, Port: u.port}
	if u.Transport == "tcp" {
		c.UriParams = sip.NewParams()
		c.UriParams.Add("transport", "tcp")
	}
	return c
}

// SIPPort is the bound SIP port.
func (u *Upstream) SIPPort() int { return u.port }

// GatewayID is the id this gateway registers to the upstream with.
func (u *Upstream) GatewayID() string { return u.gwID }

// Close hangs up every INVITE, ends every subscription and then
// unregisters (Expires 0).
func (u *Upstream) Close() {
	u.mu.Lock()
	if u.closed || u.ctx == nil {
		u.mu.Unlock()
		return
	}
	u.closed = true // refuses new INVITEs
	u.mu.Unlock()
	u.endAll(errClosed)
	u.cancel()
	<-u.done // the run loop unregisters on its way out
	u.stack.Close()
	u.wg.Wait()
	u.setState(StateClosed, nil)
	u.Log.Info("GB28181 upstream closed")
}

var errClosed = errors.New("cascade: closed")

func (u *Upstream) setState(s string, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if s == StateRegistered && u.state != StateRegistered {
		u.regAt = time.Now()
	}
	if u.state != s {
		close(u.changed)
		u.changed = make(chan struct{})
	}
	u.state = s
	if err != nil {
		u.lastErr = err.Error()
	} else if s == StateRegistered {
		u.lastErr = ""
	}
}

// StateChanged returns the state and a channel closed at its next change.
func (u *Upstream) StateChanged() (string, <-chan struct{}) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.state, u.changed
}

// State is the registration state.
func (u *Upstream) State() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.state
}

// guard refuses requests that are not from the upstream: the From user
// must be its server id, and the source its host when that is an IP.
func (u *Upstream) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		u.stats.requests.Add(1)
		from := req.From()
		if from == nil || from.Address.User != u.ServerID {
			u.stats.badRequests.Add(1)
			u.respond(tx, req, 403, "Forbidden")
			return
		}
		if ip := net.ParseIP(u.upHost); ip != nil {
			h, _, err := net.SplitHostPort(req.Source())
			if src := net.ParseIP(h); err != nil || src == nil || !src.Equal(ip) {
				u.stats.badRequests.Add(1)
				u.respond(tx, req, 403, "Forbidden")
				return
			}
		}
		h(req, tx)
	}
}

func (u *Upstream) answerOK(req *sip.Request, tx sip.ServerTransaction) {
	u.respond(tx, req, 200, "OK")
}

func (u *Upstream) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	sipstack.Respond(u.Log, tx, req, code, reason, hdrs...)
}
