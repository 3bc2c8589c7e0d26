package rtsp

import (
	"context"
	"encoding/base64"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

func TestPresented(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("pilot:s3cret"))
	cases := []struct {
		auth, query string
		want        authz.Credential
	}{
		{"", "", authz.Credential{}},
		{basic, "", authz.Credential{User: "pilot", Pass: "s3cret"}},
		{"", "secret=abc&x=1", authz.Credential{Token: "abc", Query: "secret=abc&x=1"}},
		{basic, "secret=abc", authz.Credential{User: "pilot", Pass: "s3cret", Token: "abc", Query: "secret=abc"}},
		{"", "jwt=ey.a.b", authz.Credential{JWT: "ey.a.b", Query: "jwt=ey.a.b"}},
		{"", "token=ey.a.b", authz.Credential{JWT: "ey.a.b", Query: "token=ey.a.b"}},
		{`Digest username="pilot", realm="x", nonce="n", uri="rtsp://h/p", response="r"`, "", authz.Credential{}},
		{"Basic !!!", "%zz", authz.Credential{Query: "%zz"}},
	}
	for _, c := range cases {
		req := &base.Request{Header: base.Header{}}
		if c.auth != "" {
			req.Header["Authorization"] = base.HeaderValue{c.auth}
		}
		if got := presented(req, c.query); got != c.want {
			t.Errorf("auth %q query %q: %+v, want %+v", c.auth, c.query, got, c.want)
		}
	}
}

// A publisher that is not on loopback needs a credential: without one
// ffmpeg is refused with 401; the per-push secret as ?secret= and a static
// user in Basic auth get in; a wrong password is refused.
func TestPublishFromElsewhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, func(s *Server) {
		// Pretend every client comes from a documentation address.
		s.remoteOf = func(*gortsplib.ServerConn) net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 40000} }
		s.Auth.Static = []authz.StaticUser{{User: "pilot", Pass: "s3cret"}}
	})
	clip := testpeer.Clip(t, testpeer.ClipH264Small)
	hostPort := strings.TrimPrefix(e.base, "rtsp://")

	refused := func(url, want string) {
		t.Helper()
		p := push(t, clip, "tcp", url)
		ctx := testpeer.Context(t, 15*time.Second)
		if err := p.Wait(ctx); err == nil {
			t.Fatalf("ffmpeg published to %s", url)
		}
		if !strings.Contains(p.Output(), want) {
			t.Fatalf("ffmpeg's output lacks %q:\n%s", want, p.Output())
		}
	}
	refused(e.url("live/x"), "401")
	refused("rtsp://pilot:wrong@"+hostPort+"/live/x", "401")
	refused(e.url("live/x?secret=forged"), "401")
	if e.hub.Stream("live/x") != nil {
		t.Fatal("a refused publisher made a stream")
	}

	secret, revoke := e.auth.Mint("live/secret")
	defer revoke()
	push(t, clip, "tcp", e.url("live/secret?secret="+secret))
	s := e.waitReady(t, "live/secret", 15*time.Second)
	if src, _ := s.Source(); src.RemoteAddr != "192.0.2.10:40000" {
		t.Fatalf("source %+v", src)
	}
	// The secret is for its own path only.
	refused(e.url("live/other?secret="+secret), "401")

	push(t, clip, "tcp", "rtsp://pilot:s3cret@"+hostPort+"/live/static")
	e.waitReady(t, "live/static", 15*time.Second)
}

// Readers need the read credential when one is configured and they are not
// on loopback.
func TestReadCredential(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, func(s *Server) {
		s.remoteOf = func(*gortsplib.ServerConn) net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 11), Port: 40001} }
		s.Auth.ReadUser, s.Auth.ReadPass = "viewer", "pw"
	})
	publishCore(t, e, "live/r", hlstestClip(t), false)
	e.waitReady(t, "live/r", 10*time.Second)
	hostPort := strings.TrimPrefix(e.base, "rtsp://")

	ctx := testpeer.Context(t, 20*time.Second)
	if _, err := testpeer.ProbeURL(ctx, e.url("live/r"), "-rtsp_transport", "tcp"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("ffprobe without the read credential: %v", err)
	}
	probeAV(t, "rtsp://viewer:pw@"+hostPort+"/live/r", "tcp", false)
}

// A second publisher on a busy path is refused with a reason, and the first
// one keeps the path.
func TestBusyPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	publishCore(t, e, "live/busy", hlstestClip(t), false)
	e.waitReady(t, "live/busy", 10*time.Second)

	// ffmpeg shows the status only, not its phrase.
	p := push(t, testpeer.Clip(t, testpeer.ClipH264Small), "tcp", e.url("live/busy"))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := p.Wait(ctx); err == nil {
		t.Fatal("ffmpeg published on a busy path")
	}
	if want := "400 Bad Request"; !strings.Contains(p.Output(), want) {
		t.Fatalf("ffmpeg's output lacks %q:\n%s", want, p.Output())
	}
	sdp := "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n" +
		"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\na=control:trackID=0\r\n"
	if res := rawRequest(t, e, announce(e.url("live/busy"), sdp)); !strings.HasPrefix(res, "RTSP/1.0 400 Bad Request (path already has a publisher)\r\n") {
		t.Fatalf("ANNOUNCE on a busy path: %q", res)
	}
	if src, _ := e.hub.Stream("live/busy").Source(); src.Protocol != "test" {
		t.Fatalf("the first publisher lost the path to %+v", src)
	}
}
