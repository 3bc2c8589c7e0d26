package platform

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gb28181/gbsim"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestInviteTimeoutCancels: a device that never answers an INVITE gets a
// CANCEL once InviteTimeout has passed, Invite fails then (not at SIP's
// Timer B, 32 s later: the test's context is shorter), and the media port
// is free as soon as it returns.
func TestInviteTimeoutCancels(t *testing.T) {
	for _, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			ctx := testpeer.Context(t, 20*time.Second)
			p, _ := newPlatform(t, func(p *Platform) { p.Password = "pw-hang"; p.InviteTimeout = time.Second })
			const id = "34020000001320000041"
			d, err := gbsim.New(gbsim.Config{Server: "127.0.0.1:" + strconv.Itoa(p.SIPPort()), ServerID: p.ServerID, Transport: tr,
				DeviceID: id, Password: "pw-hang", Clip: clip(t), IgnoreInvites: true, Log: testLog(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(d.Close)
			if err := d.Register(ctx); err != nil {
				t.Fatal(err)
			}
			_, err = p.Invite(ctx, id, id, "udp")
			if !errors.Is(err, errInviteCanceled) {
				t.Fatalf("Invite: %v, want the INVITE cancelled", err)
			}
			if n := p.ports.inUse(); n != 0 {
				t.Fatalf("%d media ports held after the INVITE gave up", n)
			}
			waitFor(ctx, t, "the device to get the CANCEL", func() bool { return d.Stats().Cancels == 1 })
			if st := d.Stats(); st.Invites != 1 || p.metrics.invitesCanceled.Load() != 1 || len(p.Sessions()) != 0 {
				t.Fatalf("device %+v, cancelled %d, sessions %v", st, p.metrics.invitesCanceled.Load(), p.Sessions())
			}
		})
	}
}

// TestRevokeEndsEverything: revoking a minted push whose INVITE the device
// has not answered cancels the INVITE and frees the port; the agent's
// registration is dropped at once (offline, with an event), its next
// keepalive and REGISTER are refused; a push minted again for the same
// path gets a new agent id and password, and the old registration is
// never INVITEd again.
func TestRevokeEndsEverything(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	var mu sync.Mutex
	var events []DeviceEvent
	p, _ := newPlatform(t, func(p *Platform) {
		p.InviteTimeout = 10 * time.Second
		p.OnDeviceEvent = func(ev DeviceEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() }
	})
	const path = "DOCK3REVOKE00001/165-0-7/normal-0"
	u, revoke, err := p.MintPush(path)
	if err != nil {
		t.Fatal(err)
	}
	q := parseMinted(t, u)
	dev, err := gbsim.New(gbsim.Config{Server: net.JoinHostPort(q.Get("serverIP"), q.Get("serverPort")), ServerID: q.Get("serverID"),
		DeviceID: q.Get("agentID"), Password: q.Get("agentPassword"), Channels: []gbsim.Channel{{ID: q.Get("channel")}},
		Clip: clip(t), IgnoreInvites: true, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dev.Close)
	if err := dev.Register(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the INVITE of the minted push", func() bool { return dev.Stats().Invites == 1 })
	if p.ports.inUse() != 1 {
		t.Fatalf("%d ports in use while the INVITE is pending", p.ports.inUse())
	}
	revoke()
	waitFor(ctx, t, "the CANCEL", func() bool { return dev.Stats().Cancels == 1 })
	waitFor(ctx, t, "the media port", func() bool { return p.ports.inUse() == 0 })
	if in, _ := p.Device(q.Get("agentID")); in.Registered || in.Online {
		t.Fatalf("still registered after the revoke: %+v", in)
	}
	if err := dev.Keepalive(ctx); err == nil {
		t.Fatal("a keepalive of the revoked agent was answered 200")
	}
	if err := dev.Register(ctx); err == nil {
		t.Fatal("the revoked agent registered again")
	}
	mu.Lock()
	if len(events) != 1 || events[0].DeviceID != q.Get("agentID") || events[0].Online || events[0].Reason != "revoked" {
		t.Fatalf("events %+v", events)
	}
	mu.Unlock()

	u2, revoke2, err := p.MintPush(path)
	if err != nil {
		t.Fatal(err)
	}
	defer revoke2()
	q2 := parseMinted(t, u2)
	if q2.Get("agentID") == q.Get("agentID") || q2.Get("agentPassword") == q.Get("agentPassword") || q2.Get("channel") != q.Get("channel") {
		t.Fatalf("minted again: %s, first %s: want a new agent and password for the same channel", u2, u)
	}
	if st := dev.Stats(); st.Invites != 1 {
		t.Fatalf("the revoked registration was INVITEd again: %+v", st)
	}
}

// TestSilentDeviceGoesOffline: a device that stops keeping alive is taken
// offline after MissedKeepalives intervals, with an event (and a log
// line); its next keepalive brings it back, with an event too.
func TestSilentDeviceGoesOffline(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	evs := make(chan DeviceEvent, 8)
	p, _ := newPlatform(t, func(p *Platform) {
		p.Password = "pw-quiet"
		p.KeepaliveInterval = 300 * time.Millisecond
		p.OnDeviceEvent = func(ev DeviceEvent) { evs <- ev }
	})
	const id = "34020000001320000042"
	d := newDevice(t, p, "udp", id, "pw-quiet")
	if err := d.Register(ctx); err != nil {
		t.Fatal(err)
	}
	next := func() DeviceEvent {
		select {
		case ev := <-evs:
			return ev
		case <-ctx.Done():
			t.Fatal("no device event")
			return DeviceEvent{}
		}
	}
	if ev := next(); ev.DeviceID != id || ev.Online || ev.Reason != "silent" {
		t.Fatalf("event %+v, want %s offline (silent)", ev, id)
	}
	if in, _ := p.Device(id); in.Online {
		t.Fatalf("online after the event: %+v", in)
	}
	if p.metrics.devicesOffline.Load() != 1 {
		t.Fatalf("offline counter %d", p.metrics.devicesOffline.Load())
	}
	if err := d.Keepalive(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.DeviceID != id || !ev.Online || ev.Reason != "keepalive" {
		t.Fatalf("event %+v, want %s back online", ev, id)
	}
}
