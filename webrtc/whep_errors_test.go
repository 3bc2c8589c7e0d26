package webrtc_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/webrtc"
	"github.com/skyrelay/skyrelay/webrtc/whepclient"
)

// apiError decodes {"error":{"code","message"}}.
func apiError(t *testing.T, body string) (code, message string) {
	t.Helper()
	var v struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("not an API error body: %q", body)
	}
	return v.Error.Code, v.Error.Message
}

func TestWHEPBadRequests(t *testing.T) {
	e, _ := publishedEnv(t, "live/a", clipSmall)
	for _, tc := range []struct {
		name, path, ctype, body string
		status                  int
		code                    string
	}{
		{"garbage SDP", "live/a", "application/sdp", "this is not SDP", 400, "invalid_sdp"},
		{"empty SDP", "live/a", "application/sdp", "", 400, "invalid_sdp"},
		{"no media", "live/a", "application/sdp", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", 400, "invalid_sdp"},
		{"wrong content type", "live/a", "application/json", "{}", 415, "unsupported_media_type"},
		{"unknown path", "live/none", "application/sdp", "v=0\r\n", 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if tc.status == 404 { // a valid offer, so that only the path is wrong
				o, err := (&whepclient.Client{}).Offer(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				body = o
			}
			res, b := post(t, e.whep(tc.path), tc.ctype, body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, b)
			}
			if code, msg := apiError(t, b); code != tc.code || msg == "" {
				t.Fatalf("error %q %q, want code %q", code, msg, tc.code)
			}
		})
	}
	// A syntactically valid offer without DTLS fingerprint or ICE
	// credentials is refused by pion: still a 400, never a 500.
	offer, err := (&whepclient.Client{}).Offer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(offer, "\r\n") {
		if !strings.HasPrefix(l, "a=fingerprint") {
			kept = append(kept, l)
		}
	}
	res, b := post(t, e.whep("live/a"), "application/sdp", strings.Join(kept, "\r\n"))
	if res.StatusCode != 400 {
		t.Fatalf("offer without fingerprint: status %d: %s", res.StatusCode, b)
	}
	if e.srv.WHEPCount() != 0 || e.readers("live/a", "webrtc") != 0 {
		t.Fatal("a refused offer left a session behind")
	}
}

// B-frames cannot go over WebRTC: the refusal says so and points to LL-HLS.
func TestWHEPRefusesBFrames(t *testing.T) {
	e, _ := publishedEnv(t, "live/b", clipBFrames)
	waitFor(t, "B-frames detected", 5*time.Second, func() bool { return e.hub.Stream("live/b").HasBFrames() })
	cl := &whepclient.Client{URL: e.whep("live/b")}
	defer cl.Close()
	if code, msg := refused(t, cl, http.StatusNotAcceptable); code != "bframes_not_supported" || !strings.Contains(msg, "/live/b/index.m3u8") {
		t.Fatalf("error %q %q", code, msg)
	}
}

// H.265 goes only to a client that offers it; the others are told to use
// LL-HLS.
func TestWHEPH265(t *testing.T) {
	e, _ := publishedEnv(t, "live/h", clipH265)

	plain := &whepclient.Client{URL: e.whep("live/h")}
	defer plain.Close()
	if code, msg := refused(t, plain, http.StatusNotAcceptable); code != "codec_not_supported" || !strings.Contains(msg, "/live/h/index.m3u8") {
		t.Fatalf("error %q %q", code, msg)
	}

	cl := &whepclient.Client{URL: e.whep("live/h"), H265: true}
	startClient(t, cl)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.WaitVideoFrames(ctx, 30); err != nil {
		t.Fatal(err)
	}
	st := cl.Stats()
	if st.VideoCodec != "video/H265" || st.VideoKeyframes == 0 || !st.FirstKeyframe.Equal(st.FirstVideoPacket) {
		t.Fatalf("codec %q, %d keyframes, first packet keyframe: %v", st.VideoCodec, st.VideoKeyframes, st.FirstKeyframe.Equal(st.FirstVideoPacket))
	}
}

// AAC stays out of WebRTC, with one log line per session; the video plays
// and the offered audio section gets a silent placeholder.
func TestWHEPLeavesAACOut(t *testing.T) {
	e, _ := publishedEnv(t, "live/aac", clipAAC)
	cl, _ := playing(t, e, "live/aac", 5*time.Second)
	st := cl.Stats()
	if st.AudioPackets != 0 {
		t.Fatalf("%d audio packets for an AAC stream", st.AudioPackets)
	}
	if n := len(e.logs.Lines("aac left out")); n != 1 {
		t.Fatalf("%d log lines about AAC, want 1", n)
	}
}

// PATCH takes trickle candidates (204), refuses an ICE restart and a wrong
// If-Match; DELETE ends the session and its reader at once; a second
// DELETE is 404.
func TestWHEPPatchAndDelete(t *testing.T) {
	e, _ := publishedEnv(t, "live/a", clipSmall)
	cl := &whepclient.Client{URL: e.whep("live/a")}
	startClient(t, cl)
	ctx := context.Background()
	ufrag := ""
	for _, l := range strings.Split(cl.PeerConnection().LocalDescription().SDP, "\r\n") {
		if v, ok := strings.CutPrefix(l, "a=ice-ufrag:"); ok {
			ufrag = v
		}
	}
	frag := "a=ice-ufrag:" + ufrag + "\r\na=ice-pwd:unchangedpasswordunchanged\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n" +
		"a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\na=end-of-candidates\r\n"
	for _, tc := range []struct {
		name, frag, ifMatch string
		status              int
	}{
		{"trickle", frag, cl.ETag(), 204},
		{"trickle with If-Match *", frag, "*", 204},
		{"wrong If-Match", frag, `"nope"`, 412},
		{"ICE restart", strings.Replace(frag, ufrag, "otherufrag", 1), "*", 501},
		{"garbage", "hello\r\n", "", 400},
	} {
		status, err := cl.Patch(ctx, tc.frag, tc.ifMatch)
		if err != nil || status != tc.status {
			t.Fatalf("%s: status %d (%v), want %d", tc.name, status, err, tc.status)
		}
	}
	waitFor(t, "the viewer's reader", 5*time.Second, func() bool { return e.readers("live/a", "webrtc") == 1 })
	status, err := cl.Delete(ctx)
	if err != nil || status != 200 {
		t.Fatalf("DELETE: %d %v", status, err)
	}
	if got := e.readers("live/a", "webrtc"); got != 0 || e.srv.WHEPCount() != 0 {
		t.Fatalf("after DELETE: %d readers, %d sessions", got, e.srv.WHEPCount())
	}
	if status, _ := cl.Delete(ctx); status != 404 {
		t.Fatalf("second DELETE: %d, want 404", status)
	}
	if status, _ := cl.Patch(ctx, frag, ""); status != 404 {
		t.Fatalf("PATCH after DELETE: %d, want 404", status)
	}
	select {
	case <-cl.Failed():
	case <-time.After(5 * time.Second):
		t.Fatal("the client's connection did not close after DELETE")
	}
}

// ICE over TCP uses the same port number as UDP.
func TestWHEPOverTCP(t *testing.T) {
	e, _ := publishedEnv(t, "live/a", clipSmall)
	cl := &whepclient.Client{URL: e.whep("live/a"), TCP: true}
	startClient(t, cl)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.WaitVideoFrames(ctx, 30); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.logs.Lines("webrtc viewer connected")[0], "pair=\"tcp ") {
		t.Fatalf("not connected over TCP: %v", e.logs.Lines("webrtc viewer connected"))
	}
}

// A publisher that drops and comes back within the grace period leaves the
// viewer on the same connection and the same reader, with continuous
// sequence numbers and timestamps.
func TestWHEPPublisherReconnect(t *testing.T) {
	e, pub := publishedEnv(t, "live/a", clipSmall)
	cl, ctx := playing(t, e, "live/a", 15*time.Second)
	reader := e.hub.Stream("live/a").Readers()[0]
	pub.Stop()
	time.Sleep(time.Second) // the publisher is away for a second: that is the scenario, not synchronisation
	before := cl.Stats().VideoFrames
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cl.WaitVideoFrames(ctx, before+60); err != nil {
		t.Fatal(err)
	}
	st := cl.Stats()
	if st.Lost != 0 || st.TimestampBackwards != 0 {
		t.Fatalf("across the reconnect: %d lost, %d timestamps backwards", st.Lost, st.TimestampBackwards)
	}
	if rs := e.hub.Stream("live/a").Readers(); len(rs) != 1 || rs[0] != reader {
		t.Fatal("the viewer's reader changed across the reconnect")
	}
	if st.VideoKeyframes < 2 {
		t.Fatalf("%d keyframes: the new publisher's first keyframe did not arrive", st.VideoKeyframes)
	}
}

// When the stream ends for good the viewer's connection is closed, and
// Close ends every remaining viewer.
func TestWHEPStreamEndAndClose(t *testing.T) {
	e := newEnv(t)
	e.hub.Grace = 100 * time.Millisecond
	pub := startPublisher(t, e.hub, "live/a", makeClip(t, clipSmall))
	startPublisher(t, e.hub, "live/b", makeClip(t, clipSmall))
	waitReady(t, e, "live/a")
	waitReady(t, e, "live/b")
	a := &whepclient.Client{URL: e.whep("live/a")}
	startClient(t, a)
	b := &whepclient.Client{URL: e.whep("live/b")}
	startClient(t, b)
	pub.Stop()
	select {
	case <-a.Failed():
	case <-time.After(5 * time.Second):
		t.Fatal("the viewer stayed connected after its stream ended")
	}
	waitFor(t, "one session left", 5*time.Second, func() bool { return e.srv.WHEPCount() == 1 })
	e.srv.Close()
	select {
	case <-b.Failed():
	case <-time.After(5 * time.Second):
		t.Fatal("Close left a viewer connected")
	}
	if e.srv.WHEPCount() != 0 || e.readers("live/b", "webrtc") != 0 {
		t.Fatal("Close left sessions or readers")
	}
}

// PublicIPs replace the host candidates: with 127.0.0.1 announced for a
// server listening on every address, a loopback client still connects,
// and ICEAddresses shows what was announced.
func TestICEAddressRewrite(t *testing.T) {
	e := newEnv(t, func(s *webrtc.Server) {
		s.Listen = ":0"
		s.PublicIPs = []string{"127.0.0.1"}
	})
	port := e.srv.Port()
	want := []webrtc.ICEAddress{{Protocol: "tcp", IP: "127.0.0.1", Port: port}, {Protocol: "udp", IP: "127.0.0.1", Port: port}}
	if got := e.srv.ICEAddresses(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("ICEAddresses %v, want %v", got, want)
	}
	startPublisher(t, e.hub, "live/a", makeClip(t, clipSmall))
	waitReady(t, e, "live/a")
	cl := &whepclient.Client{URL: e.whep("live/a")}
	startClient(t, cl)
	for _, l := range strings.Split(cl.Answer(), "\r\n") {
		if strings.HasPrefix(l, "a=candidate:") && !strings.Contains(l, " 127.0.0.1 ") {
			t.Fatalf("answer announces %q", l)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.WaitVideoFrames(ctx, 10); err != nil {
		t.Fatal(err)
	}
}

var _ = gateway.ErrNotFound

// refused starts cl, which the server must refuse with status, and returns
// the refusal's error code and message.
func refused(t *testing.T, cl *whepclient.Client, status int) (code, msg string) {
	t.Helper()
	err := cl.Start(context.Background())
	var he *whepclient.HTTPError
	if !errors.As(err, &he) || he.Status != status {
		t.Fatalf("got %v, want a %d", err, status)
	}
	return apiError(t, he.Body)
}

// playing starts a WHEP viewer of path and waits for its first 30 video
// frames; the context it returns, for what the test waits on next, ends
// after timeout.
func playing(t *testing.T, e *env, path string, timeout time.Duration) (*whepclient.Client, context.Context) {
	t.Helper()
	cl := &whepclient.Client{URL: e.whep(path)}
	startClient(t, cl)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	if err := cl.WaitVideoFrames(ctx, 30); err != nil {
		t.Fatal(err)
	}
	return cl, ctx
}
