package platform

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

var cseqCancel = regexp.MustCompile(`(?i)CSeq: *[0-9]+ CANCEL`)

// TestSIPpSilentDevice has SIPp play a device that registers (digest) and
// then says nothing: the platform takes it offline after three keepalive
// intervals, with an event; and, with noanswer_ooc.xml, a device that never
// answers an INVITE: the platform gives up after InviteTimeout, sends
// CANCEL (SIPp's message log shows it, and SIPp answers it 200), frees the
// media port and reports the INVITE cancelled.
func TestSIPpSilentDevice(t *testing.T) {
	testpeer.Require(t, "sipp")
	for _, tr := range []string{"u1", "t1"} {
		t.Run(tr, func(t *testing.T) {
			ctx := testpeer.Context(t, 30*time.Second)
			const dev, pw = "34020000001320000078", "sipp-Quiet7"
			evs := make(chan DeviceEvent, 8)
			p, _ := newPlatform(t, func(p *Platform) {
				p.Password = pw
				p.KeepaliveInterval = 500 * time.Millisecond
				p.InviteTimeout = time.Second
				p.OnDeviceEvent = func(ev DeviceEvent) { evs <- ev }
			})
			local := testpeer.FreeUDPPort(t)
			if tr == "t1" {
				local = testpeer.FreePort(t)
			}
			msgs := filepath.Join(t.TempDir(), "messages.log")
			sipp := testpeer.Start(t, "sipp", "127.0.0.1:"+strconv.Itoa(p.SIPPort()),
				"-sf", "testdata/silent.xml", "-oocsf", "testdata/noanswer_ooc.xml", "-m", "1", "-t", tr,
				"-i", "127.0.0.1", "-p", strconv.Itoa(local), "-au", dev, "-ap", pw,
				"-key", "device", dev, "-key", "server", p.ServerID, "-key", "domain", p.Domain, "-d", "6000",
				"-trace_msg", "-message_file", msgs, "-nostdin", "-timeout", "25s", "-timeout_error")
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("sipp:\n%s", sipp.Output())
				}
			})
			waitFor(ctx, t, "the registration", func() bool { d, ok := p.Device(dev); return ok && d.Registered })

			_, err := p.Invite(ctx, dev, dev, "udp")
			if !errors.Is(err, errInviteCanceled) {
				t.Fatalf("Invite: %v, want the INVITE cancelled\n%s", err, sipp.Output())
			}
			if n := p.ports.inUse(); n != 0 {
				t.Fatalf("%d media ports held", n)
			}
			waitFor(ctx, t, "SIPp to log the CANCEL and its 200", func() bool {
				b, _ := os.ReadFile(msgs)
				// The request, then SIPp's 200 with the same CSeq.
				return strings.Contains(string(b), "CANCEL sip:"+dev+"@") && len(cseqCancel.FindAll(b, -1)) >= 2
			})

			select {
			case ev := <-evs:
				if ev.DeviceID != dev || ev.Online || ev.Reason != "silent" {
					t.Fatalf("event %+v, want %s offline (silent)", ev, dev)
				}
			case <-ctx.Done():
				t.Fatal("the silent device never went offline")
			}
			if d, _ := p.Device(dev); d.Online || !d.Registered {
				t.Fatalf("silent device %+v", d)
			}
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if err := sipp.Wait(wctx); err != nil {
				t.Fatalf("sipp: %v\n%s", err, sipp.Output())
			}
		})
	}
}
