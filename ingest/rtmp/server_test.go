package rtmp

import (
	"crypto/rand"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/handshake"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestGarbageThenPublisher: connections that do not speak RTMP (random
// bytes instead of a handshake; a good handshake followed by random bytes)
// are closed, and the server goes on serving a real publisher.
func TestGarbageThenPublisher(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, func(s *Server) { s.ReadTimeout = 2 * time.Second })
	addr := e.srv.Addr().String()
	junk := make([]byte, 64<<10)
	_, _ = rand.Read(junk)

	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, _ = raw.Write(junk)
	closedWithin(t, raw, 5*time.Second)

	hs, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	if _, _, err := handshake.DoClient(bytecounter.NewReadWriter(hs), false, false); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	_, _ = hs.Write(junk)
	closedWithin(t, hs, 5*time.Second)

	pushFFmpeg(t, testpeer.Clip(t, testpeer.ClipH264Small), e.url("live/after-garbage"), true)
	k := attach(t, e.waitReady(t, "live/after-garbage", 10*time.Second))
	k.waitVideo(t, 10, 10*time.Second)
}

// TestSecondPublisherRefused: a second publisher on a busy path is told
// why (ffmpeg prints the server's error and exits) and the first one goes
// on undisturbed.
func TestSecondPublisherRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	clip := testpeer.Clip(t, testpeer.ClipH264Small)
	pushFFmpeg(t, clip, e.url("live/busy"), true)
	st := e.waitReady(t, "live/busy", 10*time.Second)
	k := attach(t, st)

	second := pushFFmpeg(t, clip, e.url("live/busy"), true)
	ctx := testpeer.Context(t, 15*time.Second)
	if err := second.Wait(ctx); err == nil {
		t.Fatal("the second publisher was not refused")
	}
	if !strings.Contains(second.Output(), "already has a publisher") {
		t.Fatalf("ffmpeg did not get the reason:\n%s", second.Output())
	}
	n := len(k.video())
	k.waitVideo(t, n+10, 5*time.Second)
	if e.hub.Stream("live/busy") != st {
		t.Fatal("the first publisher's stream was replaced")
	}
	if !strings.Contains(e.log.String(), "publish refused: the path already has a publisher") {
		t.Fatalf("the refusal was not logged:\n%s", e.log)
	}
}

// remoteConn makes a loopback connection look like it comes from a device
// on the internet.
type remoteConn struct{ net.Conn }

func (remoteConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.ParseIP("203.0.113.7"), Port: 40000}
}

// TestRemotePublisherNeedsCredential: off loopback, a publisher without a
// credential is refused; one with the per-push secret minted for its path
// (?secret=) or a static user (?user=&pass=) is let in. No secret reaches
// the log.
func TestRemotePublisherNeedsCredential(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, func(s *Server) { s.wrapConn = func(c net.Conn) net.Conn { return remoteConn{c} } })
	e.auth.Static = []authz.StaticUser{{User: "dock", Pass: "static-pass-never-logged"}}
	clip := testpeer.Clip(t, testpeer.ClipH264Small)
	const path = "1581FDEMO0000000AA01/165-0-7/normal-0"

	refused := pushFFmpeg(t, clip, e.url(path), false)
	if err := refused.Wait(testpeer.Context(t, 15*time.Second)); err == nil {
		t.Fatal("a remote publisher without a credential was let in")
	}
	if !strings.Contains(refused.Output(), "credential is required") {
		t.Fatalf("ffmpeg did not get the reason:\n%s", refused.Output())
	}
	wrong := pushFFmpeg(t, clip, e.url(path)+"?secret=not-minted", false)
	if err := wrong.Wait(testpeer.Context(t, 15*time.Second)); err == nil {
		t.Fatal("a remote publisher with a wrong secret was let in")
	}
	if e.hub.Stream(path) != nil {
		t.Fatal("a refused publisher made a stream")
	}

	secret, revoke := e.auth.Mint(path)
	defer revoke()
	minted := pushFFmpeg(t, clip, e.url(path)+"?secret="+secret, true)
	e.waitReady(t, path, 10*time.Second)
	_ = minted.Stop()
	testpeer.Eventually(t, 5*time.Second, "the stream to end", func() bool { return e.hub.Stream(path) == nil })

	pushFFmpeg(t, clip, e.url("live/static")+"?user=dock&pass=static-pass-never-logged", true)
	e.waitReady(t, "live/static", 10*time.Second)

	if log := e.log.String(); strings.Contains(log, secret) || strings.Contains(log, "static-pass-never-logged") {
		t.Fatal("a credential reached the log")
	}
}

// TestAuthorizeDirect covers the credential forms without a peer.
func TestAuthorizeDirect(t *testing.T) {
	a := &authz.Auth{}
	remote := remoteConn{}.RemoteAddr()
	secret, revoke := a.Mint("SN/99-0-0/normal-0")
	defer revoke()
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"rtmp://h/SN/99-0-0/normal-0", false},
		{"rtmp://h/SN/99-0-0/normal-0?secret=" + secret, true},
		{"rtmp://h/SN/99-0-0/normal-0?pass=" + secret, true},
		{"rtmp://h/SN/99-0-0/normal-1?secret=" + secret, false}, // minted for another path
	} {
		u := mustURL(t, tc.url)
		path, cred := streamPath(u)
		err := a.CheckPublish(path, remote, cred)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}

// TestPublisherComesBack: a publisher killed and restarted within 2 s
// continues the same stream; the reader is not ended and timestamps go on.
func TestPublisherComesBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	clip := testpeer.Clip(t, testpeer.ClipH264Small)
	first := pushFFmpeg(t, clip, e.url("live/back"), true)
	st := e.waitReady(t, "live/back", 10*time.Second)
	k := attach(t, st)
	k.waitVideo(t, 10, 5*time.Second)

	_ = first.Kill()
	testpeer.Eventually(t, 2*time.Second, "the publisher to be gone", func() bool { _, on := st.Source(); return !on })
	killed := time.Now()
	before := len(k.video())
	pushFFmpeg(t, clip, e.url("live/back"), true)
	testpeer.Eventually(t, 2*time.Second, "the publisher to come back", func() bool { _, on := st.Source(); return on })
	if d := time.Since(killed); d > 2*time.Second {
		t.Fatalf("the publisher took %v to come back", d)
	}
	frames := k.waitVideo(t, before+25, 10*time.Second)
	select {
	case <-k.r.Done():
		t.Fatalf("the reader ended: %v", k.r.Err())
	default:
	}
	if e.hub.Stream("live/back") != st || st.Info().Reconnects != 1 {
		t.Fatalf("the stream was not continued: reconnects %d", st.Info().Reconnects)
	}
	for i := 1; i < len(frames); i++ {
		if frames[i].Unit.PTS <= frames[i-1].Unit.PTS {
			t.Fatalf("PTS went back across the reconnect at frame %d", i)
		}
	}
}

// TestCloseEndsConnections: Close ends publishers and players at once.
func TestCloseEndsConnections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	c := newCrafted(t, e.url("live/close"))
	c.meta(metaVideo)
	c.avcConfig()
	c.frames(5, 10, nil, nil)
	st := e.waitReady(t, "live/close", 5*time.Second)
	e.srv.Close()
	closedWithin(t, c.c.NetConn(), 5*time.Second)
	if _, on := st.Source(); on {
		t.Fatal("the publisher is still attached after Close")
	}
	if _, err := net.DialTimeout("tcp", e.srv.Addr().String(), time.Second); err == nil {
		t.Fatal("the listener still accepts after Close")
	}
}
