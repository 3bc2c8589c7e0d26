package cascade

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gb28181/ps"
	"github.com/skyrelay/skyrelay/gb28181/sdp"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// media is the upper's media receiver: it gathers RTP packets from UDP,
// from a TCP connection it accepts (offer a=setup:passive) or one it
// makes to the lower's answered port (a=setup:active).
type media struct {
	t     testing.TB
	mode  string // udp, passive, active
	port  int
	pc    net.PacketConn
	ln    net.Listener
	pkts  chan []byte
	conns sync.WaitGroup
}

func newMedia(t testing.TB, mode string) *media {
	t.Helper()
	m := &media{t: t, mode: mode, pkts: make(chan []byte, 1<<16)}
	switch mode {
	case "udp":
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		m.pc, m.port = pc, pc.LocalAddr().(*net.UDPAddr).Port
		go func() {
			for {
				b := make([]byte, 2048)
				n, _, err := pc.ReadFrom(b)
				if err != nil {
					return
				}
				m.pkts <- b[:n]
			}
		}()
		t.Cleanup(func() { pc.Close() })
	case "passive":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		m.ln, m.port = ln, ln.Addr().(*net.TCPAddr).Port
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			m.read(c)
		}()
		t.Cleanup(func() { ln.Close() })
	case "active":
		m.port = 30000 + testpeer.FreePort(t)%10000 // announced, never listened on
	}
	return m
}

func (m *media) read(c net.Conn) {
	m.t.Cleanup(func() { c.Close() })
	fr := ps.NewFrameReader(c)
	for {
		p, err := fr.Next()
		if err != nil {
			return
		}
		m.pkts <- append([]byte(nil), p...)
	}
}

// dial connects to the lower's answered port (a=setup:active offers).
func (m *media) dial(answer *sdp.Session) {
	m.t.Helper()
	addr := net.JoinHostPort(answer.Address(), strconv.Itoa(answer.Video().Port))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		m.t.Fatal(err)
	}
	go m.read(c)
}

func (m *media) offer(ssrc string) []byte {
	proto, setup := "RTP/AVP", ""
	switch m.mode {
	case "passive":
		proto, setup = "TCP/RTP/AVP", "a=setup:passive\r\na=connection:new\r\n"
	case "active":
		proto, setup = "TCP/RTP/AVP", "a=setup:active\r\na=connection:new\r\n"
	}
	y := ""
	if ssrc != "" {
		y = "y=" + ssrc + "\r\n"
	}
	return []byte(fmt.Sprintf("v=0\r\no=%s 0 0 IN IP4 127.0.0.1\r\ns=Play\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video %d %s 96 97 98\r\na=recvonly\r\n"+
		"a=rtpmap:96 PS/90000\r\na=rtpmap:97 MPEG4/90000\r\na=rtpmap:98 H264/90000\r\n%s%sf=\r\n", upperID, m.port, proto, setup, y))
}

// invite sends an INVITE for channel and returns the dialog and answer.
func (up *upper) invite(ctx context.Context, channel string, body []byte) (*sipgo.DialogClientSession, *sdp.Session) {
	up.t.Helper()
	dua := sipgo.DialogUA{Client: up.cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: upperID, Host: "127.0.0.1", Port: mustPort(up.addr)}}}
	req := up.request(sip.INVITE, channel)
	req.AppendHeader(sip.NewHeader("Subject", channel+":0200012345,"+upperID+":0"))
	req.AppendHeader(sip.NewHeader("Content-Type", "APPLICATION/SDP"))
	req.SetBody(body)
	dlg, err := dua.WriteInvite(ctx, req)
	if err != nil {
		up.t.Fatal(err)
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		up.t.Fatalf("INVITE: %v", err)
	}
	ans, err := sdp.Parse(dlg.InviteResponse.Body())
	if err != nil {
		up.t.Fatal(err)
	}
	if err := dlg.Ack(ctx); err != nil {
		up.t.Fatal(err)
	}
	return dlg, ans
}

// checkPS reads packets until frames video access units came, and checks
// SSRC, payload type, markers, one timestamp per frame and a first pack
// that a decoder can start on.
func (m *media) checkPS(ctx context.Context, ssrc uint32, frames int) []byte {
	m.t.Helper()
	var psBytes []byte
	var got []*ps.VideoAU
	d := ps.Demuxer{OnVideo: func(au *ps.VideoAU) { got = append(got, au.Clone()) }}
	first := true
	var lastTS uint32
	whole := 0
	for len(got) < frames {
		var p []byte
		select {
		case p = <-m.pkts:
		case <-ctx.Done():
			m.t.Fatalf("%d video frames, want %d", len(got), frames)
		}
		h, payload, err := ps.ParseRTP(p)
		if err != nil {
			m.t.Fatal(err)
		}
		if h.SSRC != ssrc || h.PayloadType != 96 {
			m.t.Fatalf("RTP SSRC %#x PT %d, want %#x 96", h.SSRC, h.PayloadType, ssrc)
		}
		if first {
			if !bytes.HasPrefix(payload, []byte{0, 0, 1, 0xBA}) || !bytes.Contains(payload, []byte{0, 0, 1, 0xBB}) || !bytes.Contains(payload, []byte{0, 0, 1, 0xBC}) {
				m.t.Fatalf("first packet does not start pack header, system header, PSM: % x", payload[:min(40, len(payload))])
			}
			first = false
		} else if h.Timestamp != lastTS && !bytes.HasPrefix(payload, []byte{0, 0, 1, 0xBA}) {
			m.t.Fatal("a new timestamp without a new pack")
		}
		lastTS = h.Timestamp
		psBytes = append(psBytes, payload...)
		if h.Marker {
			whole = len(psBytes) // the end of a frame: the bytes so far hold whole frames
		}
		d.Write(payload)
	}
	if !got[0].Key || got[0].Codec != ps.CodecH264 {
		m.t.Fatalf("first frame key=%v codec %v", got[0].Key, got[0].Codec)
	}
	if step := got[1].PTS - got[0].PTS; step != 3600 {
		m.t.Fatalf("PTS step %d, want 3600 (25 fps)", step)
	}
	return psBytes[:whole]
}

// TestInvite plays a stream to the upper over UDP, TCP where we connect,
// and TCP where the upper connects: 200 with the offer's y=, a=sendonly and
// the inverse setup; PS that starts at a key frame; BYE ends it.
func TestInvite(t *testing.T) {
	for _, mode := range []string{"udp", "passive", "active"} {
		t.Run(mode, func(t *testing.T) {
			ctx := testpeer.Context(t, 20*time.Second)
			up, u := registered(ctx, t, "udp", false)
			ch := u.ChannelList()[0].ID
			m := newMedia(t, mode)
			dlg, ans := up.invite(ctx, ch, m.offer("0200012345"))
			v := ans.Video()
			if ans.SSRC != "0200012345" || v == nil || v.Direction != "sendonly" || v.RTPMaps[0].Encoding != "PS" {
				t.Fatalf("answer %s", dlg.InviteResponse.Body())
			}
			switch mode {
			case "passive":
				if v.Setup != "active" || !v.IsTCP() {
					t.Fatalf("answer to setup:passive: %s", dlg.InviteResponse.Body())
				}
			case "active":
				if v.Setup != "passive" || !v.IsTCP() || v.Port == 0 {
					t.Fatalf("answer to setup:active: %s", dlg.InviteResponse.Body())
				}
				m.dial(ans)
			}
			m.checkPS(ctx, 0x0BEBF239, 30)
			if s := u.Sessions(); len(s) != 1 || s[0].Packets == 0 || s[0].Path != "live/a" {
				t.Fatalf("sessions %+v", s)
			}
			if err := dlg.Bye(ctx); err != nil {
				t.Fatal(err)
			}
			// Once the upstream holds our 200, the call is no longer
			// listed, though its media may still be coming down.
			if s := u.Sessions(); len(s) != 0 {
				t.Fatalf("session listed after its BYE was answered: %+v", s)
			}
			for u.stats.sessionsEnded.Load() != 1 {
				select {
				case <-ctx.Done():
					t.Fatal("session never ended after its BYE")
				case <-time.After(5 * time.Millisecond): // the session's end has no event to wait on
				}
			}
			if st := u.Hub.Stream("live/a"); len(st.Readers()) != 0 {
				t.Fatalf("%d readers left", len(st.Readers()))
			}
		})
	}
}

// TestInviteOnDemand: an INVITE for a DJI camera that is not live starts it
// through the Starter, and releases it when the session ends; several
// INVITEs of one channel play at once, and a missing y= gets one made up.
func TestInviteOnDemand(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	hub := newHub(t)
	dji := newFakeDJI()
	up := newUpper(t, "tcp", false)
	u := newLower(t, up, hub, func(u *Upstream) {
		u.Devices, u.Starter = dji, fakeStarter{f: dji, hub: hub, t: t}
	})
	up.next(ctx, "REGISTER", isMethod(sip.REGISTER))
	var cam string
	for _, c := range u.ChannelList() {
		if c.Path == "AC1/99-0-0/zoom-0" {
			cam = c.ID
		}
	}
	m1, m2 := newMedia(t, "udp"), newMedia(t, "passive")
	d1, a1 := up.invite(ctx, cam, m1.offer("0200000001"))
	d2, a2 := up.invite(ctx, cam, m2.offer(""))
	if dji.started.Load() != 2 {
		t.Fatalf("starter called %d times", dji.started.Load())
	}
	if !sdp.ValidSSRC(a2.SSRC) || a2.SSRC[0] != '0' {
		t.Fatalf("made-up SSRC %q", a2.SSRC)
	}
	s2, _ := a2.SSRCValue()
	m1.checkPS(ctx, 200000001, 10)
	m2.checkPS(ctx, s2, 10)
	_ = a1
	_ = d1.Bye(ctx)
	_ = d2.Bye(ctx)
	for dji.release.Load() != 2 {
		select {
		case <-ctx.Done():
			t.Fatalf("released %d times", dji.release.Load())
		case <-time.After(5 * time.Millisecond): // release has no event to wait on
		}
	}
}

// TestInviteErrors: malformed and impossible INVITEs get the right code,
// a BYE for no dialog 481, and none of it disturbs a session that plays.
func TestInviteErrors(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	hub := newHub(t)
	publishClip(t, hub, "live/a")
	up := newUpper(t, "udp", false)
	u := newLower(t, up, hub, func(u *Upstream) { u.Devices = newFakeDJI(); u.InviteWait = 200 * time.Millisecond })
	up.next(ctx, "REGISTER", isMethod(sip.REGISTER))
	var ch, offline string
	for _, c := range u.ChannelList() {
		switch c.Path {
		case "live/a":
			ch = c.ID
		case "AC1/99-0-0/zoom-0":
			offline = c.ID
		}
	}
	m := newMedia(t, "udp")
	dlg, _ := up.invite(ctx, ch, m.offer("0200012345"))

	good := string(m.offer("0200000002"))
	for _, tc := range []struct {
		name, channel, body string
		want                int
	}{
		{"unknown channel", "34020000001329999999", good, 404},
		{"not SDP", ch, "hello", 400},
		{"no video", ch, strings.Replace(good, "m=video", "m=audio", 1), 488},
		{"no PS", ch, strings.Replace(strings.Replace(good, "PS/90000", "H265/90000", 1), "m=video "+strconv.Itoa(m.port)+" RTP/AVP 96 97 98", "m=video "+strconv.Itoa(m.port)+" RTP/AVP 96", 1), 415},
		{"bad y=", ch, strings.Replace(good, "y=0200000002", "y=02abc", 1), 400},
		{"playback", ch, strings.Replace(good, "s=Play", "s=Playback", 1), 488},
		{"camera that does not start", offline, good, 480},
	} {
		req := up.request(sip.INVITE, tc.channel)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody([]byte(tc.body))
		if res := up.do(ctx, req); res.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, res.StatusCode, tc.want)
		}
	}
	bye := up.request(sip.BYE, ch)
	if res := up.do(ctx, bye); res.StatusCode != 481 {
		t.Errorf("BYE for no dialog: %d, want 481", res.StatusCode)
	}
	// The first session still plays.
	m.checkPS(ctx, 0x0BEBF239, 10)
	_ = dlg.Bye(ctx)
}

// TestCloseHangsUp: Close sends BYE for live sessions before it
// unregisters; a stream that ends hangs up too.
func TestCloseHangsUp(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	up, u := registered(ctx, t, "udp", false)
	m := newMedia(t, "udp")
	up.invite(ctx, u.ChannelList()[0].ID, m.offer("0200012345"))
	m.checkPS(ctx, 0x0BEBF239, 2)
	u.Close()
	up.next(ctx, "BYE from the lower", isMethod(sip.BYE))
	unreg := up.next(ctx, "the unregister after the BYE", isMethod(sip.REGISTER))
	if e := unreg.GetHeader("Expires"); e == nil || e.Value() != "0" {
		t.Fatalf("REGISTER after close: %v", e)
	}
}

// TestSeveralUpstreams: two upper platforms play the same stream at the
// same time, one over UDP and one over TCP, and both get it; garbage on
// one's SIP port disturbs neither.
func TestSeveralUpstreams(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	hub := newHub(t)
	publishClip(t, hub, "live/a")
	upA, upB := newUpper(t, "udp", false), newUpper(t, "tcp", true)
	a, b := newLower(t, upA, hub, nil), newLower(t, upB, hub, nil)
	upA.next(ctx, "REGISTER A", isMethod(sip.REGISTER))
	upB.next(ctx, "REGISTER B", isMethod(sip.REGISTER))
	for _, port := range []int{a.SIPPort(), b.SIPPort()} {
		c, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		for _, junk := range []string{"\x00\x01garbage", "INVITE sip:x SIP/2.0\r\nVia: broken\r\n\r\n", strings.Repeat("A", 1400)} {
			_, _ = c.Write([]byte(junk))
		}
		c.Close()
	}
	mA, mB := newMedia(t, "udp"), newMedia(t, "active")
	upA.invite(ctx, a.ChannelList()[0].ID, mA.offer("0200000011"))
	_, ansB := upB.invite(ctx, b.ChannelList()[0].ID, mB.offer("0200000012"))
	mB.dial(ansB)
	mA.checkPS(ctx, 200000011, 20)
	mB.checkPS(ctx, 200000012, 20)
	if n := len(hub.Stream("live/a").Readers()); n != 2 {
		t.Fatalf("%d readers, want 2", n)
	}
}

// TestHangUps: the gateway sends BYE when the stream ends, and when the
// upstream never ACKs its 200.
func TestHangUps(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	hub := newHub(t)
	c := testClip(t)
	tr, _ := gateway.TrackFor(&format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: c.SPS, PPS: c.PPS})
	pub, err := hub.Publish("live/short", gateway.SourceInfo{Protocol: "test"}, []*gateway.Track{tr})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		pub.WriteUnit(0, int64(i)*3600, c.AUs[i])
	}
	publishClip(t, hub, "live/a")
	up := newUpper(t, "udp", false)
	u := newLower(t, up, hub, func(u *Upstream) { u.AckTimeout = 300 * time.Millisecond })
	up.next(ctx, "REGISTER", isMethod(sip.REGISTER))
	var short, long string
	for _, ch := range u.ChannelList() {
		if ch.Path == "live/short" {
			short = ch.ID
		} else {
			long = ch.ID
		}
	}
	m := newMedia(t, "udp")
	dlg, _ := up.invite(ctx, short, m.offer("0200012345"))
	m.checkPS(ctx, 0x0BEBF239, 5)
	pub.Close() // the publisher leaves; with no grace the stream ends
	bye := up.next(ctx, "BYE when the stream ended", isMethod(sip.BYE))
	if bye.CallID().Value() != dlg.InviteRequest.CallID().Value() {
		t.Fatal("BYE for another call")
	}

	// An INVITE never ACKed: 200, then BYE after AckTimeout.
	req := up.request(sip.INVITE, long)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(newMedia(t, "udp").offer("0200000003"))
	if res := up.do(ctx, req); res.StatusCode != 200 {
		t.Fatalf("INVITE: %d", res.StatusCode)
	}
	bye = up.next(ctx, "BYE without ACK", isMethod(sip.BYE))
	if bye.CallID().Value() != req.CallID().Value() {
		t.Fatal("BYE for another call")
	}
}
