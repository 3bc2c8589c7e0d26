package gbsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/skyrelay/skyrelay/gb28181/manscdp"
)

// Channel is one catalog entry of the simulated device.
type Channel struct {
	ID, Name string
}

// Config describes the simulated device.
type Config struct {
	// Server is the platform's SIP address (host:port), ServerID its
	// 20-digit id. Realm defaults to the first 10 digits of ServerID.
	Server, ServerID string
	// Transport is the SIP transport, "udp" (default) or "tcp".
	Transport string
	// DeviceID and Password are the device's credentials.
	DeviceID, Password string
	// Channels are answered to Catalog queries; empty: one channel whose id
	// is the DeviceID.
	Channels []Channel
	// CatalogPart is the number of items per Catalog MESSAGE (default 1,
	// which exercises multi-part answers).
	CatalogPart int
	// LocalIP is the address to bind (default 127.0.0.1).
	LocalIP string
	// Keepalive is the keepalive period (default 60 s); Expires the
	// registration lifetime asked for (default 3600 s).
	Keepalive time.Duration
	Expires   int
	// Clip is an Annex-B H.264 stream starting with an IDR picture, sent in
	// a loop at FPS (default 25) to every call; nil refuses INVITEs with
	// 488.
	Clip []byte
	FPS  int
	// Burst sends the clip as fast as possible instead of in real time
	// (benchmarks).
	Burst bool
	// RestartClock starts the PTS over at each pass of the clip, as an
	// encoder that loops its source does; by default they run on.
	RestartClock bool
	// IgnoreInvites leaves every INVITE unanswered (not even 100 Trying),
	// as a device that hangs does; Stats counts the CANCELs that end them.
	IgnoreInvites bool
	// ClipFrames, when set, cuts each pass to the clip's first ClipFrames
	// access units (a short loop).
	ClipFrames int
	Log        *slog.Logger
}

// Stats counts what the device did.
type Stats struct {
	Registers, Keepalives, CatalogAnswers, Invites, Byes uint64
	Cancels                                              uint64
	RTPPackets, RTPBytes                                 uint64
}

// Device is a running simulated device.
type Device struct {
	cfg   Config
	aus   []accessUnit
	ua    *sipgo.UserAgent
	srv   *sipgo.Server
	cli   *sipgo.Client
	dlgs  *sipgo.DialogServerCache
	laddr string // SIP address the device binds (UDP) or "" (TCP)
	pc    net.PacketConn

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	sn       atomic.Uint32
	stats    struct{ registers, keepalives, catalogs, invites, byes, cancels, packets, bytes atomic.Uint64 }
	mu       sync.Mutex
	calls    map[string]*call
	closed   bool
	callID   string
	cseq     uint32
	callsCh  chan struct{} // pulsed when a call starts or ends
	lastCall *call
}

// New checks cfg and binds the device's SIP socket (UDP) or prepares its
// client (TCP: the connection is made by the first REGISTER and reused for
// requests from the platform, as a device behind NAT does).
func New(cfg Config) (*Device, error) {
	if cfg.Server == "" || cfg.DeviceID == "" {
		return nil, errors.New("gbsim: Server and DeviceID are needed")
	}
	if cfg.Transport == "" {
		cfg.Transport = "udp"
	}
	cfg.Transport = strings.ToLower(cfg.Transport)
	if cfg.Transport != "udp" && cfg.Transport != "tcp" {
		return nil, fmt.Errorf("gbsim: transport %q", cfg.Transport)
	}
	if cfg.LocalIP == "" {
		cfg.LocalIP = "127.0.0.1"
	}
	if cfg.Keepalive <= 0 {
		cfg.Keepalive = time.Minute
	}
	if cfg.Expires <= 0 {
		cfg.Expires = 3600
	}
	if cfg.FPS <= 0 {
		cfg.FPS = 25
	}
	if cfg.CatalogPart <= 0 {
		cfg.CatalogPart = 1
	}
	if len(cfg.Channels) == 0 {
		cfg.Channels = []Channel{{ID: cfg.DeviceID, Name: "通道1"}}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	d := &Device{cfg: cfg, calls: map[string]*call{}, callsCh: make(chan struct{}, 1)}
	if cfg.Clip != nil {
		aus, err := splitClip(cfg.Clip)
		if err != nil {
			return nil, err
		}
		if cfg.ClipFrames > 0 && cfg.ClipFrames < len(aus) {
			aus = aus[:cfg.ClipFrames]
		}
		d.aus = aus
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	if err := d.startSIP(); err != nil {
		d.cancel()
		return nil, err
	}
	return d, nil
}

func (d *Device) startSIP() error {
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(d.cfg.DeviceID), sipgo.WithUserAgentHostname(d.realm()))
	if err != nil {
		return err
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		ua.Close()
		return err
	}
	var opts []sipgo.ClientOption
	port := 0
	if d.cfg.Transport == "udp" {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(d.cfg.LocalIP, "0"))
		if err != nil {
			ua.Close()
			return err
		}
		d.laddr = pc.LocalAddr().String()
		port = pc.LocalAddr().(*net.UDPAddr).Port
		// Requests leave from the socket the device listens on, so that
		// the platform's requests back to their source reach it.
		opts = append(opts, sipgo.WithClientConnectionAddr(d.laddr))
		d.pc = pc
		d.wg.Add(1)
		go func() { defer d.wg.Done(); _ = srv.ServeUDP(pc) }()
		// Requests can use the socket once the transport layer knows it.
		for i := 0; ; i++ {
			if c, _ := ua.TransportLayer().GetConnection("udp", d.laddr); c != nil {
				break
			}
			if i == 1000 {
				pc.Close()
				ua.Close()
				return errors.New("gbsim: UDP listener did not start")
			}
			time.Sleep(time.Millisecond)
		}
	}
	opts = append(opts, sipgo.WithClientHostname(d.cfg.LocalIP))
	if port > 0 {
		opts = append(opts, sipgo.WithClientPort(port))
	}
	cli, err := sipgo.NewClient(ua, opts...)
	if err != nil {
		ua.Close()
		return err
	}
	d.ua, d.srv, d.cli = ua, srv, cli
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: d.cfg.DeviceID, Host: d.cfg.LocalIP, Port: port}}
	d.dlgs = sipgo.NewDialogServerCache(cli, contact)
	srv.OnMessage(d.onMessage)
	srv.OnInvite(d.onInvite)
	srv.OnAck(d.onAck)
	srv.OnBye(d.onBye)
	return nil
}

func (d *Device) realm() string {
	if len(d.cfg.ServerID) >= 10 {
		return d.cfg.ServerID[:10]
	}
	return "3402000000"
}

// ID is the device id.
func (d *Device) ID() string { return d.cfg.DeviceID }

// Stats returns the counters.
func (d *Device) Stats() Stats {
	return Stats{Registers: d.stats.registers.Load(), Keepalives: d.stats.keepalives.Load(), CatalogAnswers: d.stats.catalogs.Load(),
		Invites: d.stats.invites.Load(), Byes: d.stats.byes.Load(), Cancels: d.stats.cancels.Load(), RTPPackets: d.stats.packets.Load(), RTPBytes: d.stats.bytes.Load()}
}

// Run registers and then sends keepalives every Keepalive period and
// refreshes the registration before it expires, until ctx ends or Close.
func (d *Device) Run(ctx context.Context) error {
	if err := d.Register(ctx); err != nil {
		return err
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ka := time.NewTicker(d.cfg.Keepalive)
		defer ka.Stop()
		re := time.NewTicker(time.Duration(d.cfg.Expires) * time.Second * 2 / 3)
		defer re.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-d.ctx.Done():
				return
			case <-ka.C:
				if err := d.Keepalive(ctx); err != nil {
					d.cfg.Log.Warn("gbsim keepalive failed", "device", d.cfg.DeviceID, "error", err)
				}
			case <-re.C:
				if err := d.Register(ctx); err != nil {
					d.cfg.Log.Warn("gbsim register refresh failed", "device", d.cfg.DeviceID, "error", err)
				}
			}
		}
	}()
	return nil
}

// newRequest builds a request to the platform.
func (d *Device) newRequest(method sip.RequestMethod) *sip.Request {
	host, port, _ := sip.ParseAddr(d.cfg.Server)
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: d.cfg.ServerID, Host: host, Port: port})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: d.cfg.DeviceID, Host: d.realm()}}
	from.Params = sip.NewParams()
	from.Params.Add("tag", sip.GenerateTagN(10))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: d.cfg.ServerID, Host: d.realm()}})
	req.SetTransport(strings.ToUpper(d.cfg.Transport))
	return req
}

// Register sends REGISTER and answers the digest challenge (GB/T
// 28181-2016 §9.1.2.1); it fails unless the platform answers 200.
func (d *Device) Register(ctx context.Context) error { return d.register(ctx, d.cfg.Expires) }

// Unregister sends REGISTER with Expires: 0.
func (d *Device) Unregister(ctx context.Context) error { return d.register(ctx, 0) }

func (d *Device) register(ctx context.Context, expires int) error {
	d.mu.Lock()
	if d.callID == "" {
		d.callID = sip.GenerateTagN(20)
	}
	d.cseq++
	callID, cseq := d.callID, d.cseq
	d.mu.Unlock()
	req := d.newRequest(sip.REGISTER)
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.REGISTER})
	host, port := d.cfg.LocalIP, 0
	if d.laddr != "" {
		_, port, _ = sip.ParseAddr(d.laddr)
	}
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: d.cfg.DeviceID, Host: host, Port: port}})
	e := sip.ExpiresHeader(expires)
	req.AppendHeader(&e)
	res, err := d.cli.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("gbsim: REGISTER: %w", err)
	}
	if res.StatusCode == 401 || res.StatusCode == 407 {
		d.mu.Lock()
		d.cseq++
		d.mu.Unlock()
		res, err = d.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: d.cfg.DeviceID, Password: d.cfg.Password})
		if err != nil {
			return fmt.Errorf("gbsim: REGISTER with credentials: %w", err)
		}
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("gbsim: REGISTER answered %d %s", res.StatusCode, res.Reason)
	}
	d.stats.registers.Add(1)
	return nil
}

// Keepalive sends one Keepalive MESSAGE; it fails unless answered 200.
func (d *Device) Keepalive(ctx context.Context) error {
	if err := d.message(ctx, manscdp.Keepalive(d.sn.Add(1), d.cfg.DeviceID)); err != nil {
		return err
	}
	d.stats.keepalives.Add(1)
	return nil
}

// Message sends a MANSCDP body to the platform and waits for its answer
// code, which it returns.
func (d *Device) Message(ctx context.Context, body []byte) (int, error) {
	req := d.newRequest(sip.MESSAGE)
	req.AppendHeader(sip.NewHeader("Content-Type", manscdp.ContentType))
	req.SetBody(body)
	res, err := d.cli.Do(ctx, req)
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}

func (d *Device) message(ctx context.Context, body []byte) error {
	code, err := d.Message(ctx, body)
	if err != nil {
		return fmt.Errorf("gbsim: MESSAGE: %w", err)
	}
	if code != 200 {
		return fmt.Errorf("gbsim: MESSAGE answered %d", code)
	}
	return nil
}

// onMessage answers the platform's queries: 200 at once, then the answer
// in MESSAGEs of its own (GB/T 28181-2016 §9.5).
func (d *Device) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	m, err := manscdp.Decode(req.Body())
	if err != nil || !strings.EqualFold(m.Root(), "Query") {
		return
	}
	seq := uint32(manscdp.Atoi(m.SN))
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ctx, cancel := context.WithTimeout(d.ctx, 5*time.Second)
		defer cancel()
		switch {
		case strings.EqualFold(m.CmdType, "Catalog"):
			items := make([]manscdp.Item, 0, len(d.cfg.Channels))
			for _, c := range d.cfg.Channels {
				items = append(items, manscdp.Item{DeviceID: c.ID, Name: c.Name, Manufacturer: "Skyrelay", Model: "gbsim",
					Parental: "0", ParentID: d.cfg.DeviceID, Status: "ON"})
			}
			for _, b := range manscdp.CatalogResponses(seq, d.cfg.DeviceID, items, d.cfg.CatalogPart) {
				if err := d.message(ctx, b); err != nil {
					d.cfg.Log.Warn("gbsim catalog answer failed", "error", err)
					return
				}
			}
			d.stats.catalogs.Add(1)
		case strings.EqualFold(m.CmdType, "DeviceInfo"):
			b := manscdp.DeviceInfoResponse(seq, d.cfg.DeviceID, "gbsim "+d.cfg.DeviceID, "Skyrelay", "gbsim", "1.0", len(d.cfg.Channels))
			if err := d.message(ctx, b); err != nil {
				d.cfg.Log.Warn("gbsim device info answer failed", "error", err)
			}
		}
	}()
}

// Close hangs up every call and stops the device (without unregistering:
// call Unregister first for a clean exit).
func (d *Device) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	calls := make([]*call, 0, len(d.calls))
	for _, c := range d.calls {
		calls = append(calls, c)
	}
	d.mu.Unlock()
	for _, c := range calls {
		c.stop()
	}
	d.cancel()
	d.ua.Close()
	if d.pc != nil {
		d.pc.Close()
	}
	d.wg.Wait()
}
