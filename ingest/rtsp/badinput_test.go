package rtsp

import (
	"bufio"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// rawRequest sends one request on a fresh connection and returns the
// status line and headers of the answer.
func rawRequest(t testing.TB, e *env, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", e.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("no answer and no close within 10 s to %q (got %q)", req, b.String())
		}
		if err != nil || line == "\r\n" {
			return b.String()
		}
	}
}

func hasStatus(res, code string) bool {
	return strings.HasPrefix(res, "RTSP/1.0 "+code+" ") || strings.HasPrefix(res, "HTTP/1.1 "+code+" ")
}

func announce(url, sdp string) string {
	return "ANNOUNCE " + url + " RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\n" +
		"Content-Length: " + strconv.Itoa(len(sdp)) + "\r\n\r\n" + sdp
}

// Garbage on the RTSP port costs that connection only: a reader of a
// stream keeps counting frames and new clients are served.
func TestGarbageOnPort(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	publishCore(t, e, "live/g", hlstestClip(t), false)
	e.waitReady(t, "live/g", 10*time.Second)
	r := readFFmpeg(t, e.url("live/g"), "tcp")
	testpeer.Eventually(t, 15*time.Second, "the reader to count frames", func() bool { return frames(r) > 10 })

	// Random bytes: the server drops the connection.
	c, err := net.Dial("tcp", e.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	_, _ = c.Write(junk) // the server may close before all of it is read
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("the garbage connection was not closed: %v", err)
	}

	// An HTTP request that is not an RTSP tunnel gets an HTTP 400.
	if res := rawRequest(t, e, "GET /live/g HTTP/1.1\r\nHost: x\r\n\r\n"); !hasStatus(res, "400") {
		t.Fatalf("plain HTTP GET: %q", res)
	}
	// Malformed requests close their connection unanswered.
	for _, req := range []string{
		"OPTIONS " + e.url("live/g") + " RTSP/9.9\r\nCSeq: 1\r\n\r\n",
		"OPTIONS " + e.url("live/g") + " RTSP/1.0\r\nCSeq: 1\r\nContent-Length: abc\r\n\r\n",
	} {
		if res := rawRequest(t, e, req); res != "" {
			t.Fatalf("malformed request %q answered %q", req, res)
		}
	}

	before := frames(r)
	testpeer.Eventually(t, 10*time.Second, "the reader to go on", func() bool { return frames(r) > before+25 })
	if res := rawRequest(t, e, "OPTIONS "+e.url("live/g")+" RTSP/1.0\r\nCSeq: 1\r\n\r\n"); !hasStatus(res, "200") {
		t.Fatalf("OPTIONS after the garbage: %q", res)
	}
	probeAV(t, e.url("live/g"), "udp", false)
}

// A malformed SDP in ANNOUNCE, or one with no codec Skyrelay carries, is
// refused with a clear status; the server goes on.
func TestBadAnnounce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	cases := []struct{ name, sdp, status, phrase string }{
		{"garbage", "this is not SDP\x00\xff\r\n", "400", ""},
		{"truncated", "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96", "400", ""},
		{"vp8 only", "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n" +
			"m=video 0 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\na=control:trackID=0\r\n", "415", "no H.264, H.265, AAC, Opus or G.711 track"},
	}
	for _, c := range cases {
		res := rawRequest(t, e, announce(e.url("live/bad"), c.sdp))
		if !hasStatus(res, c.status) || !strings.Contains(res, c.phrase) {
			t.Errorf("%s: %q, want %s %s", c.name, res, c.status, c.phrase)
		}
	}
	if s := e.hub.Stream("live/bad"); s != nil {
		t.Fatalf("a refused ANNOUNCE left a stream")
	}
	// The server goes on: a real publisher and reader work.
	push(t, avClip(t), "tcp", e.url("live/bad"))
	e.waitReady(t, "live/bad", 15*time.Second)
	probeAV(t, e.url("live/bad"), "tcp", true)
}
