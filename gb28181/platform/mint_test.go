package platform

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gb28181/gbsim"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestMintPushFlow is the DJI url_type 3 flow with gbsim as the device:
// MintPush → the device registers with the minted credentials → the
// platform INVITEs the minted channel → PS over RTP → the stream is ready
// on the hub as the path, with the clip's picture size; revoke sends BYE.
// SIP over UDP with media over UDP, and SIP over TCP with media over TCP
// (the device dials the platform's media port).
func TestMintPushFlow(t *testing.T) {
	for _, tc := range []struct{ sip, media string }{{"udp", "udp"}, {"tcp", "tcp"}, {"udp", "tcp"}} {
		t.Run(tc.sip+"-sip-"+tc.media+"-media", func(t *testing.T) {
			ctx := testpeer.Context(t, 30*time.Second)
			p, hub := newPlatform(t, func(p *Platform) { p.PushTransport = tc.media })
			const path = "1581FDEMO0000000AA01/99-0-0/normal-0"
			u, revoke, err := p.MintPush(path)
			if err != nil {
				t.Fatal(err)
			}
			q := parseMinted(t, u)
			for _, k := range []string{"serverIP", "serverPort", "serverID", "agentID", "agentPassword", "localPort", "channel"} {
				if q.Get(k) == "" {
					t.Fatalf("url %q lacks %s", u, k)
				}
			}
			if !strings.HasPrefix(u, "serverIP=127.0.0.1&serverPort=") || len(q.Get("agentID")) != 20 || len(q.Get("channel")) != 20 || q.Get("serverID") != DefaultServerID {
				t.Fatalf("url %q", u)
			}
			dev, err := gbsim.New(gbsim.Config{
				Server: net.JoinHostPort(q.Get("serverIP"), q.Get("serverPort")), ServerID: q.Get("serverID"), Transport: tc.sip,
				DeviceID: q.Get("agentID"), Password: q.Get("agentPassword"), Channels: []gbsim.Channel{{ID: q.Get("channel"), Name: "相机"}},
				Clip: clip(t), Keepalive: time.Second, Log: testLog(t),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer dev.Close()
			if err := dev.Run(ctx); err != nil {
				t.Fatal(err)
			}
			if err := hub.WaitReady(ctx, path); err != nil {
				t.Fatal(err)
			}
			s := hub.Stream(path)
			in := s.Info()
			if len(in.Tracks) != 1 || in.Tracks[0].Codec != gateway.CodecH264 || in.Tracks[0].Width != 640 || in.Tracks[0].Height != 360 || in.Source.Protocol != "gb28181" {
				t.Fatalf("stream %+v", in)
			}
			frames := countFrames(t, ctx, hub, path)
			waitFor(ctx, t, "25 frames", func() bool { return frames.Load() >= 25 })

			// The device and its session are in Devices.
			d, ok := p.Device(q.Get("agentID"))
			if !ok || !d.Online || d.Transport != strings.ToUpper(tc.sip) || len(d.Sessions) != 1 || d.Sessions[0].Path != path || !d.Sessions[0].Published {
				t.Fatalf("device %+v", d)
			}
			waitFor(ctx, t, "the catalog", func() bool {
				d, _ := p.Device(q.Get("agentID"))
				return len(d.Channels) == 1 && d.Channels[0].Name == "相机"
			})

			revoke()
			if err := dev.WaitCalls(ctx, 0); err != nil {
				t.Fatal(err)
			}
			// The media connection closes before the BYE goes out: the
			// device's call may end on that first.
			waitFor(ctx, t, "the BYE", func() bool { return dev.Stats().Byes == 1 })
			if len(p.Sessions()) != 0 {
				t.Fatalf("after revoke: %+v, sessions %v", dev.Stats(), p.Sessions())
			}
			// The minted password is gone with the mint.
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := dev.Register(rctx); err == nil || !strings.Contains(err.Error(), "403") {
				t.Fatalf("register after revoke: %v", err)
			}
		})
	}
}

// TestDeviceHangsUp: a BYE from the device ends the session; for a minted
// push the platform INVITEs again while the device stays registered; a
// second camera minted for the registered device is INVITEd at once.
func TestDeviceHangsUp(t *testing.T) {
	ctx := testpeer.Context(t, 30*time.Second)
	p, hub := newPlatform(t, nil)
	const path = "DOCK3DEMO0000001/165-0-7/normal-0"
	u, revoke, err := p.MintPush(path)
	if err != nil {
		t.Fatal(err)
	}
	defer revoke()
	q := parseMinted(t, u)
	dev, err := gbsim.New(gbsim.Config{Server: net.JoinHostPort(q.Get("serverIP"), q.Get("serverPort")), ServerID: q.Get("serverID"),
		DeviceID: q.Get("agentID"), Password: q.Get("agentPassword"), Channels: []gbsim.Channel{{ID: q.Get("channel")}}, Clip: clip(t), Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if err := dev.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if err := hub.WaitReady(ctx, path); err != nil {
		t.Fatal(err)
	}
	ss := p.Sessions()
	if len(ss) != 1 {
		t.Fatal(ss)
	}
	first := ss[0].SessionID
	if err := dev.HangUp(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the session to end", func() bool {
		ss := p.Sessions()
		return len(ss) == 0 || ss[0].SessionID != first
	})
	// Invited again after mintRetryDelay.
	waitFor(ctx, t, "a new call", func() bool { ss := p.Sessions(); return len(ss) == 1 && ss[0].SessionID != first && ss[0].Published })
	if st := dev.Stats(); st.Invites != 2 {
		t.Fatalf("%+v", st)
	}

	// A second camera of the registered device: same agent and password,
	// INVITEd at once.
	const path2 = "DOCK3DEMO0000001/165-0-8/normal-0"
	u2, revoke2, err := p.MintPush(path2)
	if err != nil {
		t.Fatal(err)
	}
	defer revoke2()
	if q2 := parseMinted(t, u2); q2.Get("agentID") != q.Get("agentID") || q2.Get("agentPassword") != q.Get("agentPassword") {
		t.Fatalf("%s vs %s", u2, u)
	}
	if err := hub.WaitReady(ctx, path2); err != nil {
		t.Fatal(err)
	}
	if err := dev.WaitCalls(ctx, 2); err != nil {
		t.Fatal(err)
	}
}
