package cascade

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gb28181/manscdp"
	"github.com/skyrelay/skyrelay/internal/h264clip"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// The ids the tests use.
const (
	upperID  = "44010000002000000001"
	upperDom = "4401000000"
	lowerID  = "34020000002000000001"
	password = "secret"
)

// upper is a GB28181 upper platform of our own: it challenges REGISTER
// with MD5 digest, answers keepalives as told, records what the lower
// sends and sends it requests.
type upper struct {
	t         testing.TB
	transport string
	qop       bool
	addr      string
	ua        *sipgo.UserAgent
	srv       *sipgo.Server
	cli       *sipgo.Client
	pc        net.PacketConn
	ln        net.Listener

	// kaCode is how keepalives are answered: 200, an error code, or 0 to
	// stay silent.
	kaCode atomic.Int32
	// regCode, when set, refuses REGISTERs with it.
	regCode atomic.Int32

	mu        sync.Mutex
	lower     string // where the lower's requests come from
	registers []int  // Expires of each authenticated REGISTER
	callIDs   []string
	lastBody  []byte
	events    chan *sip.Request
}

func newUpper(t testing.TB, transport string, qop bool) *upper {
	t.Helper()
	up := &upper{t: t, transport: transport, qop: qop, events: make(chan *sip.Request, 1024)}
	up.kaCode.Store(200)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(upperID), sipgo.WithUserAgentHostname(upperDom))
	if err != nil {
		t.Fatal(err)
	}
	up.ua = ua
	up.srv, _ = sipgo.NewServer(ua)
	up.srv.OnRegister(up.onRegister)
	up.srv.OnMessage(up.onMessage)
	up.srv.OnNotify(up.record)
	up.srv.OnBye(up.record)
	port := testpeer.FreePort(t)
	up.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var opts []sipgo.ClientOption
	if transport == "udp" {
		pc, err := net.ListenPacket("udp", up.addr)
		if err != nil {
			t.Fatal(err)
		}
		up.pc = pc
		go func() { _ = up.srv.ServeUDP(pc) }()
		opts = append(opts, sipgo.WithClientConnectionAddr(up.addr))
		for i := 0; ; i++ {
			if c, _ := ua.TransportLayer().GetConnection("udp", up.addr); c != nil {
				break
			}
			if i > 2000 {
				t.Fatal("upper: UDP not up")
			}
			time.Sleep(time.Millisecond)
		}
	} else {
		ln, err := net.Listen("tcp", up.addr)
		if err != nil {
			t.Fatal(err)
		}
		up.ln = ln
		go func() { _ = up.srv.ServeTCP(ln) }()
	}
	up.cli, _ = sipgo.NewClient(ua, append(opts, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port))...)
	t.Cleanup(func() {
		ua.Close()
		if up.pc != nil {
			up.pc.Close()
		}
		if up.ln != nil {
			up.ln.Close()
		}
	})
	return up
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func (up *upper) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	auth := req.GetHeader("Authorization")
	if auth == nil {
		res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
		chal := `Digest realm="` + upperDom + `",nonce="n` + sip.GenerateTagN(8) + `",algorithm=MD5`
		if up.qop {
			chal += `,qop="auth"`
		}
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", chal))
		_ = tx.Respond(res)
		return
	}
	cr, err := digest.ParseCredentials(auth.Value())
	ok := err == nil && cr.Username == lowerID && cr.Realm == upperDom
	if ok {
		ha1 := md5hex(cr.Username + ":" + cr.Realm + ":" + password)
		ha2 := md5hex("REGISTER:" + cr.URI)
		want := md5hex(ha1 + ":" + cr.Nonce + ":" + ha2)
		if cr.QOP != "" {
			want = md5hex(fmt.Sprintf("%s:%s:%08x:%s:%s:%s", ha1, cr.Nonce, cr.Nc, cr.Cnonce, cr.QOP, ha2))
		}
		ok = cr.Response == want && (cr.QOP == "auth") == up.qop
	}
	if !ok {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
		return
	}
	if c := up.regCode.Load(); c != 0 {
		_ = tx.Respond(sip.NewResponseFromRequest(req, int(c), "Refused", nil))
		return
	}
	exp := -1
	if h := req.GetHeader("Expires"); h != nil {
		exp, _ = strconv.Atoi(h.Value())
	}
	up.mu.Lock()
	up.lower = req.Source()
	up.registers = append(up.registers, exp)
	up.callIDs = append(up.callIDs, req.CallID().Value())
	up.mu.Unlock()
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if exp >= 0 {
		e := sip.ExpiresHeader(exp)
		res.AppendHeader(&e)
	}
	res.AppendHeader(sip.NewHeader("Date", time.Now().Format("2006-01-02T15:04:05.000")))
	_ = tx.Respond(res)
	up.events <- req
}

func (up *upper) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	if strings.Contains(string(req.Body()), "<CmdType>Keepalive</CmdType>") {
		c := up.kaCode.Load()
		if c == 0 {
			up.events <- req
			return
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, int(c), "Keepalive", nil))
		up.events <- req
		return
	}
	up.record(req, tx)
}

func (up *upper) record(req *sip.Request, tx sip.ServerTransaction) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	up.events <- req
}

// lastBody is the body of the last request next returned.

func (up *upper) registerCount() int {
	up.mu.Lock()
	defer up.mu.Unlock()
	return len(up.registers)
}

// next waits for the next request matching keep (others are dropped).
func (up *upper) next(ctx context.Context, what string, keep func(*sip.Request) bool) *sip.Request {
	up.t.Helper()
	for {
		select {
		case r := <-up.events:
			if keep(r) {
				up.lastBody = r.Body()
				return r
			}
		case <-ctx.Done():
			up.t.Fatalf("upper: no %s: %v", what, ctx.Err())
			return nil
		}
	}
}

func isMethod(m sip.RequestMethod) func(*sip.Request) bool {
	return func(r *sip.Request) bool { return r.Method == m }
}

func isCmd(method sip.RequestMethod, cmd string) func(*sip.Request) bool {
	return func(r *sip.Request) bool {
		return r.Method == method && strings.Contains(string(r.Body()), "<CmdType>"+cmd+"</CmdType>")
	}
}

// request builds a request from the upper to the lower (user@lower).
func (up *upper) request(method sip.RequestMethod, user string) *sip.Request {
	up.mu.Lock()
	lower := up.lower
	up.mu.Unlock()
	host, port, _ := sip.ParseAddr(lower)
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: user, Host: host, Port: port})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: upperID, Host: upperDom}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "3402000000"}})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: upperID, Host: "127.0.0.1", Port: mustPort(up.addr)}})
	req.SetTransport(strings.ToUpper(up.transport))
	req.SetDestination(lower)
	return req
}

func mustPort(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// do sends a request and returns the final answer.
func (up *upper) do(ctx context.Context, req *sip.Request) *sip.Response {
	up.t.Helper()
	res, err := up.cli.Do(ctx, req)
	if err != nil {
		up.t.Fatalf("upper: %s: %v", req.Method, err)
	}
	return res
}

// query sends a MANSCDP Query MESSAGE and returns the answer code.
func (up *upper) query(ctx context.Context, cmd, sn, deviceID, extra string) int {
	up.t.Helper()
	req := up.request(sip.MESSAGE, lowerID)
	req.AppendHeader(sip.NewHeader("Content-Type", manscdp.ContentType))
	req.SetBody([]byte(`<?xml version="1.0" encoding="GB2312"?>` + "\r\n<Query>\r\n<CmdType>" + cmd + "</CmdType>\r\n<SN>" + sn +
		"</SN>\r\n<DeviceID>" + deviceID + "</DeviceID>\r\n" + extra + "</Query>\r\n"))
	return up.do(ctx, req).StatusCode
}

// fakeDJI is the control plane as the tests want it.
type fakeDJI struct {
	mu      sync.Mutex
	devices []Device
	pos     map[string]Position
	started atomic.Int32
	release atomic.Int32
}

func (f *fakeDJI) Devices() []Device {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Device(nil), f.devices...)
}

func (f *fakeDJI) Position(sn string) (Position, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pos[sn]
	return p, ok
}

func (f *fakeDJI) setOnline(sn string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.devices {
		if f.devices[i].SN == sn {
			f.devices[i].Online = on
		}
	}
}

// starter publishes the clip on the path when asked, as live_start_push
// would make the device do.
type fakeStarter struct {
	f   *fakeDJI
	hub *gateway.Hub
	t   testing.TB
}

func (s fakeStarter) Start(ctx context.Context, path string) (func(), error) {
	s.f.started.Add(1)
	if s.hub.Stream(path) == nil {
		publishClip(s.t, s.hub, path)
	}
	return func() { s.f.release.Add(1) }, nil
}

func newFakeDJI() *fakeDJI {
	return &fakeDJI{
		devices: []Device{
			{SN: "DOCK1", Kind: KindDock, Name: "机场1", Model: "Dock 3", Online: true,
				Cameras: []Camera{{Path: "DOCK1/165-0-7/normal-0", Name: "dock camera"}}},
			{SN: "AC1", Kind: KindAircraft, Name: "M3TD", Model: "M3TD", Online: true,
				Cameras: []Camera{{Path: "AC1/99-0-0/normal-0", Name: "广角"}, {Path: "AC1/99-0-0/zoom-0", Name: "zoom"}}},
		},
		pos: map[string]Position{"AC1": {Time: time.Now(), Latitude: 31.8206, Longitude: 117.2272, Altitude: 120, Speed: 10, Heading: -90}},
	}
}

var clipOnce sync.Once
var clipAUs *h264clip.Clip

func testClip(t testing.TB) *h264clip.Clip {
	t.Helper()
	clipOnce.Do(func() {
		b, err := os.ReadFile(filepath.Join(testpeer.Root(), "sim", "clip", "clip.h264"))
		if err != nil {
			t.Fatal(err)
		}
		clipAUs, err = h264clip.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
	})
	return clipAUs
}

// publishClip publishes the clip on path at 25 fps until the test ends.
func publishClip(t testing.TB, hub *gateway.Hub, path string) {
	t.Helper()
	publishSized(t, hub, path, 0)
}

// publishSized is publishClip with every picture padded to at least size
// bytes (0xFF bytes after its slice data), for a bitrate of choice.
func publishSized(t testing.TB, hub *gateway.Hub, path string, size int) {
	t.Helper()
	c := testClip(t)
	tr, err := gateway.TrackFor(&format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: c.SPS, PPS: c.PPS})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := hub.Publish(path, gateway.SourceInfo{Protocol: "test"}, []*gateway.Track{tr})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(40 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			au := c.AUs[i%len(c.AUs)]
			if n := auSize(au); n < size {
				// The slice grows: the gateway drops filler NAL units.
				last := au[len(au)-1]
				au = append(au[:len(au)-1:len(au)-1], append(last[:len(last):len(last)], filler[:size-n]...))
			}
			pub.WriteUnit(0, int64(i)*3600, au)
			select {
			case <-stop:
				pub.Close()
				return
			case <-tk.C:
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hub.WaitReady(ctx, path); err != nil {
		t.Fatal(err)
	}
}

var filler = bytes.Repeat([]byte{0xFF}, 1<<20)

func auSize(au [][]byte) int {
	n := 0
	for _, x := range au {
		n += len(x)
	}
	return n
}

func testLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newLower starts an Upstream toward up.
func newLower(t testing.TB, up *upper, hub *gateway.Hub, mod func(*Upstream)) *Upstream {
	t.Helper()
	u := &Upstream{UpstreamConfig: UpstreamConfig{Name: "test", Address: up.addr, Transport: up.transport, ServerID: upperID,
		LocalID: lowerID, Password: password, KeepaliveInterval: time.Minute},
		SIPListen: "127.0.0.1:0", PublicHost: "127.0.0.1", RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		RequestTimeout: time.Second, Hub: hub, Log: testLog(t)}
	if mod != nil {
		mod(u)
	}
	if err := u.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u
}

// registered is the start most tests share: a hub publishing a clip on
// live/a, an upper listening over transport, and a lower that has sent
// its first REGISTER to it.
func registered(ctx context.Context, t testing.TB, transport string, qop bool) (*upper, *Upstream) {
	t.Helper()
	hub := newHub(t)
	publishClip(t, hub, "live/a")
	up := newUpper(t, transport, qop)
	u := newLower(t, up, hub, nil)
	up.next(ctx, "REGISTER", isMethod(sip.REGISTER))
	return up, u
}

func newHub(t testing.TB) *gateway.Hub {
	h := gateway.NewHub(0, slog.New(slog.DiscardHandler))
	t.Cleanup(h.Close)
	return h
}

// waitState waits for the upstream's state.
func waitState(ctx context.Context, t testing.TB, u *Upstream, want string) {
	t.Helper()
	for {
		s, ch := u.StateChanged()
		if s == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("state %s, want %s", s, want)
		case <-ch:
		}
	}
}
