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
			if dev.Stats().Byes != 1 || len(p.Sessions()) != 0 {
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
