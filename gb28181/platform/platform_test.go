package platform

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/skyrelay/skyrelay/gb28181/gbid"
	"github.com/skyrelay/skyrelay/gb28181/gbsim"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// fakeClock is the platform's clock in tests that let time pass.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newDevice(t *testing.T, p *Platform, transport, id, pw string) *gbsim.Device {
	t.Helper()
	d, err := gbsim.New(gbsim.Config{Server: "127.0.0.1:" + strconv.Itoa(p.SIPPort()), ServerID: p.ServerID, Transport: transport,
		DeviceID: id, Password: pw, Log: testLog(t),
		Channels: []gbsim.Channel{{ID: id[:10] + "1310000001", Name: "主码流"}, {ID: id[:10] + "1310000002", Name: "副码流"}, {ID: id[:10] + "1310000003", Name: "热成像"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// TestKeepaliveAndOffline: a registered device is online; three keepalive
// intervals without a word and it is offline; a keepalive brings it back;
// after Expires: 0 it is unregistered and its keepalives are refused (403,
// which makes a real device register again).
func TestKeepaliveAndOffline(t *testing.T) {
	for _, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			ctx := testpeer.Context(t, 20*time.Second)
			clock := &fakeClock{t: time.Now()}
			p, _ := newPlatform(t, func(p *Platform) { p.Password = "pw-1"; p.now = clock.Now })
			const id = "34020000001320000010"
			d := newDevice(t, p, tr, id, "pw-1")
			if err := d.Register(ctx); err != nil {
				t.Fatal(err)
			}
			// The catalog query follows the registration; three parts come back.
			waitFor(ctx, t, "the catalog", func() bool { in, _ := p.Device(id); return len(in.Channels) == 3 })
			waitFor(ctx, t, "the device info", func() bool { in, _ := p.Device(id); return in.Manufacturer == "Skyrelay" && in.ChannelCount == 3 })
			in, _ := p.Device(id)
			if !in.Online || in.Channels[0].Name != "主码流" || in.Transport != strings.ToUpper(tr) {
				t.Fatalf("%+v", in)
			}
			clock.Add(3*p.KeepaliveInterval + time.Second)
			if in, _ := p.Device(id); in.Online || !in.Registered {
				t.Fatalf("after 3 missed keepalives: %+v", in)
			}
			if err := d.Keepalive(ctx); err != nil {
				t.Fatal(err)
			}
			if in, _ := p.Device(id); !in.Online {
				t.Fatalf("after a keepalive: %+v", in)
			}
			if err := d.Unregister(ctx); err != nil {
				t.Fatal(err)
			}
			if in, _ := p.Device(id); in.Online || in.Registered {
				t.Fatalf("after Expires 0: %+v", in)
			}
			if err := d.Keepalive(ctx); err == nil || !strings.Contains(err.Error(), "403") {
				t.Fatalf("keepalive of an unregistered device: %v", err)
			}
		})
	}
}

// TestMessagesAnswered200: DataTransfer, unknown command types, a GBK body
// that claims UTF-8 and bodies that are not XML at all are all answered
// 200: DJI devices break on anything else.
func TestMessagesAnswered200(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	p, _ := newPlatform(t, func(p *Platform) { p.Password = "pw" })
	const id = "34020000001320000011"
	d := newDevice(t, p, "udp", id, "pw")
	if err := d.Register(ctx); err != nil {
		t.Fatal(err)
	}
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(`<?xml version="1.0" encoding="UTF-8"?><Notify><CmdType>Alarm</CmdType><SN>9</SN><DeviceID>` + id + `</DeviceID><AlarmDescription>报警</AlarmDescription></Notify>`)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`<?xml version="1.0"?><Notify><CmdType>DataTransfer</CmdType><SN>1</SN><DeviceID>` + id + `</DeviceID><Data>{"a":1}</Data></Notify>`,
		`<?xml version="1.0"?><Notify><CmdType>MobilePosition</CmdType><SN>2</SN><DeviceID>` + id + `</DeviceID></Notify>`,
		gbk,
		"this is not xml",
		"",
	} {
		if code, err := d.Message(ctx, []byte(body)); err != nil || code != 200 {
			t.Errorf("%.40q: %d %v", body, code, err)
		}
	}
	if got := p.metrics.badMessages.Load(); got != 2 {
		t.Errorf("malformed bodies counted %d, want 2", got)
	}
}

// TestRegisterRefused: a wrong password and an unknown device without a
// default password are refused with 403 and never listed.
func TestRegisterRefused(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	p, _ := newPlatform(t, nil) // no default password
	p.SetDevicePassword("34020000001320000012", "right")
	for _, c := range []struct{ id, pw string }{{"34020000001320000012", "wrong"}, {"34020000001320000013", "anything"}} {
		d := newDevice(t, p, "udp", c.id, c.pw)
		if err := d.Register(ctx); err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("%s: %v", c.id, err)
		}
	}
	if n := len(p.Devices()); n != 0 {
		t.Fatalf("%d devices listed", n)
	}
	d := newDevice(t, p, "tcp", "34020000001320000012", "right")
	if err := d.Register(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestNATAddress: requests go where the device's REGISTER came from; a
// keepalive from another port of the same IP moves that address, while
// one from another IP does not (it is not authenticated).
func TestNATAddress(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	p, _ := newPlatform(t, func(p *Platform) { p.Password = "pw" })
	const id = "34020000001320000014"
	d := newDevice(t, p, "udp", id, "pw")
	if err := d.Register(ctx); err != nil {
		t.Fatal(err)
	}
	// The device's answers to the queries that follow a registration come
	// from its first socket: let them finish.
	waitFor(ctx, t, "the device info", func() bool { in, _ := p.Device(id); return in.Manufacturer == "Skyrelay" })
	in, _ := p.Device(id)
	first := in.RemoteAddr
	// The same device id from another socket (a NAT rebinding).
	d2 := newDevice(t, p, "udp", id, "pw")
	if err := d2.Keepalive(ctx); err != nil {
		t.Fatal(err)
	}
	in, _ = p.Device(id)
	if in.RemoteAddr == first || !strings.HasPrefix(in.RemoteAddr, "127.0.0.1:") {
		t.Fatalf("address %s after a keepalive from a new port (was %s)", in.RemoteAddr, first)
	}
	// The platform's next query reaches the new socket.
	if err := p.Query(ctx, id, "DeviceInfo"); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	ok := p.devices[id].touch("192.0.2.1:5060", "UDP", p.now(), false)
	p.mu.Unlock()
	if ok {
		t.Fatal("an unauthenticated message from another IP moved the device")
	}
}

// TestDevicesHandler serves the JSON of GET /api/v1/gb28181/devices.
func TestDevicesHandler(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	p, _ := newPlatform(t, func(p *Platform) { p.Password = "pw" })
	const id = "34020000001320000015"
	d := newDevice(t, p, "tcp", id, "pw")
	if err := d.Register(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the catalog", func() bool { in, _ := p.Device(id); return len(in.Channels) == 3 })
	rec := httptest.NewRecorder()
	p.DevicesHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/gb28181/devices", nil))
	var body struct {
		Devices []struct {
			DeviceID   string `json:"device_id"`
			Online     bool   `json:"online"`
			Transport  string `json:"transport"`
			RemoteAddr string `json:"remote_addr"`
			Channels   []struct {
				ChannelID string `json:"channel_id"`
				Name      string `json:"name"`
			} `json:"channels"`
			Sessions []any `json:"sessions"`
		} `json:"items"`
	}
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if len(body.Devices) != 1 || body.Devices[0].DeviceID != id || !body.Devices[0].Online || body.Devices[0].Transport != "TCP" ||
		len(body.Devices[0].Channels) != 3 || body.Devices[0].Channels[2].Name != "热成像" || body.Devices[0].Sessions == nil {
		t.Fatalf("%s", rec.Body)
	}
	rec = httptest.NewRecorder()
	p.DevicesHandler().ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/gb28181/devices", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatal(rec.Code)
	}
}

// TestMintIDs: ids are 20 digits and stable per path; cameras of one
// device share the agent (and its password) with their own channels; the
// url keeps the documented key order.
func TestMintIDs(t *testing.T) {
	p, _ := newPlatform(t, nil)
	u1, revoke1, err := p.MintPush("SN1/165-0-7/normal-0")
	if err != nil {
		t.Fatal(err)
	}
	u2, revoke2, err := p.MintPush("SN1/99-0-0/normal-0")
	if err != nil {
		t.Fatal(err)
	}
	defer revoke2()
	if _, _, err := p.MintPush("SN1/165-0-7/normal-0"); err == nil {
		t.Fatal("the same path minted twice")
	}
	q1, q2 := parseMinted(t, u1), parseMinted(t, u2)
	if q1.Get("agentID") != q2.Get("agentID") || q1.Get("agentPassword") != q2.Get("agentPassword") || q1.Get("channel") == q2.Get("channel") {
		t.Fatalf("%s\n%s", u1, u2)
	}
	keys := []string{}
	for _, kv := range strings.Split(u1, "&") {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	if strings.Join(keys, ",") != "serverIP,serverPort,serverID,agentID,agentPassword,localPort,channel" || q1.Get("localPort") != "5060" {
		t.Fatal(u1)
	}
	for _, id := range []string{q1.Get("agentID"), q1.Get("channel")} {
		if !gbid.Digits(id, 20) || !strings.HasPrefix(id, p.Domain) {
			t.Fatal(id)
		}
	}
	if len(q1.Get("agentPassword")) < 16 {
		t.Fatal("short password")
	}
	revoke1()
	revoke1() // twice is harmless
	again, revoke3, err := p.MintPush("SN1/165-0-7/normal-0")
	if err != nil {
		t.Fatal(err)
	}
	defer revoke3()
	qa := parseMinted(t, again)
	if qa.Get("agentID") != q1.Get("agentID") || qa.Get("channel") != q1.Get("channel") || qa.Get("agentPassword") != q1.Get("agentPassword") {
		t.Fatalf("not stable: %s vs %s", again, u1)
	}
	if _, _, err := p.MintPush("bad path with spaces"); err == nil {
		t.Fatal("bad path minted")
	}
}
