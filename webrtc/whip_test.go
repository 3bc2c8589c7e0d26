package webrtc_test

import (
	"context"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/webrtc"
	"github.com/skyrelay/skyrelay/webrtc/whepclient"
	"github.com/skyrelay/skyrelay/webrtc/whipclient"
)

// whipEnv is newEnv with WHIP plugged into the HTTP server.
func whipEnv(t testing.TB, tune ...func(*webrtc.Server)) *env {
	e := newEnv(t, tune...)
	e.http.WHIP = e.srv.WHIP()
	return e
}

func (e *env) whip(path string) string { return e.base + "/" + path + "/whip" }

// whipPublisher sends a clip's units through a whipclient in real time,
// looped, until stopped.
type whipPublisher struct {
	c    *whipclient.Client
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func startWHIP(t testing.TB, url string, c *clip, audio bool) *whipPublisher {
	t.Helper()
	wc := &whipclient.Client{URL: url, Audio: audio}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := wc.Start(ctx); err != nil {
		t.Fatalf("WHIP publish: %v", err)
	}
	p := &whipPublisher{c: wc, stop: make(chan struct{}), done: make(chan struct{})}
	go p.run(c, audio)
	t.Cleanup(p.Stop)
	return p
}

func (p *whipPublisher) run(c *clip, audio bool) {
	defer close(p.done)
	frame := time.Second / time.Duration(c.spec.FPS)
	start := time.Now()
	var loopOffset time.Duration
	for {
		for _, u := range c.units {
			at := loopOffset + time.Duration(u.pts)*time.Second/90000
			if u.track == 1 {
				at = loopOffset + time.Duration(u.pts)*time.Second/48000
			}
			if d := time.Until(start.Add(at)); d > 0 {
				select {
				case <-time.After(d):
				case <-p.stop:
					return
				}
			}
			select {
			case <-p.stop:
				return
			default:
			}
			switch {
			case u.track == 0:
				_ = p.c.WriteVideo(u.payload, frame)
			case audio && len(u.payload) > 0:
				_ = p.c.WriteAudio(u.payload[0], 20*time.Millisecond)
			}
		}
		loopOffset += c.duration
	}
}

// Stop ends the publisher and deletes its session.
func (p *whipPublisher) Stop() {
	p.once.Do(func() {
		close(p.stop)
		<-p.done
		p.c.Close()
	})
}

// A pion publisher offering several H.264 profiles and Opus gets a
// conservative answer, and its stream reaches a WHEP viewer.
func TestWHIPPionToWHEP(t *testing.T) {
	e := whipEnv(t)
	c := makeClip(t, clipSmall)
	pub := startWHIP(t, e.whip("live/whip"), c, true)
	waitReady(t, e, "live/whip")

	ans := pub.c.Answer()
	video := mediaSection(ans, "video")
	if f := strings.Fields(strings.SplitN(video, "\r\n", 2)[0]); len(f) != 4 {
		t.Fatalf("answer's video section has %d payload types, want exactly one: %q", len(f)-3, f)
	}
	if !strings.Contains(video, "profile-level-id=42e01f") || !strings.Contains(video, "packetization-mode=1") {
		t.Fatalf("answer's video is not the first offered H.264 mode-1 profile:\n%s", video)
	}
	for _, bad := range []string{"a=extmap:", "rtx/", "transport-cc", "goog-remb", "a=rtcp-fb:102 nack\r\n"} {
		if strings.Contains(ans, bad) {
			t.Fatalf("answer has %q, which the gateway does not use:\n%s", bad, ans)
		}
	}
	if audio := mediaSection(ans, "audio"); !strings.Contains(audio, "opus/48000/2") || len(strings.Fields(strings.SplitN(audio, "\r\n", 2)[0])) != 4 {
		t.Fatalf("answer's audio is not Opus alone:\n%s", audio)
	}
	src, _ := e.hub.Stream("live/whip").Source()
	if src.Protocol != "whip" {
		t.Fatalf("source protocol %q", src.Protocol)
	}

	v := &whepclient.Client{URL: e.whep("live/whip")}
	startClient(t, v)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitVideoFrames(ctx, 60); err != nil {
		t.Fatal(err)
	}
	st := v.Stats()
	if st.AudioPackets == 0 || st.VideoKeyframes == 0 || st.TimestampBackwards != 0 {
		t.Fatalf("viewer stats %+v", st)
	}

	// DELETE detaches the publisher; the stream waits in its grace period
	// with the viewer still attached.
	pub.Stop()
	waitFor(t, "WHIP session gone", 5*time.Second, func() bool { return e.srv.WHIPCount() == 0 })
	if _, ok := e.hub.Stream("live/whip").Source(); ok {
		t.Fatal("the stream still has a publisher after DELETE")
	}
	if e.readers("live/whip", "webrtc") != 1 {
		t.Fatal("the viewer left with the publisher")
	}
	// A publisher that comes back continues the stream for the viewer.
	before := v.Stats().VideoFrames
	startWHIP(t, e.whip("live/whip"), c, true)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := v.WaitVideoFrames(ctx2, before+30); err != nil {
		t.Fatalf("after the publisher came back: %v", err)
	}
}

func mediaSection(sdp, kind string) string {
	i := strings.Index(sdp, "m="+kind+" ")
	if i < 0 {
		return ""
	}
	s := sdp[i:]
	if j := strings.Index(s[2:], "\r\nm="); j >= 0 {
		s = s[:j+4]
	}
	return s
}

// Publishing from elsewhere than loopback needs the per-push secret, as a
// bearer token or ?secret=; a second publisher on a live path gets 409.
func TestWHIPAuthAndBusy(t *testing.T) {
	auth := &authz.Auth{}
	e := whipEnv(t, func(s *webrtc.Server) { s.Auth = auth })
	secret, revoke := auth.Mint("drone/cam")
	defer revoke()
	h := e.srv.WHIP()
	offer := chromeLikeOffer(t)

	try := func(target, bearer string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(offer))
		r.RemoteAddr = "192.0.2.7:40000"
		r.Header.Set("Content-Type", "application/sdp")
		if bearer != "" {
			r.Header.Set("Authorization", "Bearer "+bearer)
		}
		w := httptest.NewRecorder()
		h.ServePath(w, r, "drone/cam", "")
		return w
	}
	if w := try("/drone/cam/whip", ""); w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("no credential: %d %s", w.Code, w.Body)
	}
	if w := try("/drone/cam/whip", "wrong"); w.Code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", w.Code)
	}
	other, revokeOther := auth.Mint("other/path")
	defer revokeOther()
	if w := try("/drone/cam/whip?secret="+other, ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("a secret of another path: %d", w.Code)
	}
	w := try("/drone/cam/whip?secret="+secret, "")
	if w.Code != http.StatusCreated || !strings.HasPrefix(w.Header().Get("Location"), "/drone/cam/whip/") {
		t.Fatalf("?secret=: %d %s", w.Code, w.Body)
	}
	if w := try("/drone/cam/whip", secret); w.Code != http.StatusConflict {
		t.Fatalf("second publisher: %d %s", w.Code, w.Body)
	}
	// The session resource also wants the secret from elsewhere.
	loc := w.Header().Get("Location")
	id := loc[strings.LastIndex(loc, "/")+1:]
	del := func(bearer string) int {
		r := httptest.NewRequest(http.MethodDelete, loc, nil)
		r.RemoteAddr = "192.0.2.7:40000"
		if bearer != "" {
			r.Header.Set("Authorization", "Bearer "+bearer)
		}
		rec := httptest.NewRecorder()
		h.ServePath(rec, r, "drone/cam", id)
		return rec.Code
	}
	if code := del(""); code != http.StatusUnauthorized {
		t.Fatalf("DELETE without secret: %d", code)
	}
	if code := del(secret); code != http.StatusOK {
		t.Fatalf("DELETE: %d", code)
	}
	if e.srv.WHIPCount() != 0 {
		t.Fatal("session still open after DELETE")
	}
}

// An offer without a=rtcp-rsize or a=extmap-allow-mixed gets an answer
// without them: the answerer may not add what the offer did not ask for.
func TestWHIPAnswerAddsNothing(t *testing.T) {
	e := whipEnv(t)
	offer := strings.NewReplacer("a=extmap-allow-mixed\r\n", "", "a=rtcp-rsize\r\n", "").Replace(chromeLikeOffer(t))
	r := httptest.NewRequest(http.MethodPost, "/x/whip", strings.NewReader(offer))
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("Content-Type", "application/sdp")
	w := httptest.NewRecorder()
	e.srv.WHIP().ServePath(w, r, "x", "")
	ans := w.Body.String()
	if w.Code != http.StatusCreated {
		t.Fatalf("%d %s", w.Code, ans)
	}
	for _, bad := range []string{"a=rtcp-rsize", "a=extmap", "rtx/", "a=rtcp-fb:102 nack\r\n", "transport-cc", "goog-remb"} {
		if strings.Contains(ans, bad) {
			t.Errorf("answer has %q:\n%s", bad, ans)
		}
	}
	if !strings.Contains(ans, "a=rtcp-fb:102 nack pli") || !strings.Contains(ans, "a=rtpmap:111 opus/48000/2") {
		t.Errorf("answer lacks PLI or Opus:\n%s", ans)
	}
}

// chromeLikeOffer is a sendonly offer from the pion client, without
// sending it anywhere.
func chromeLikeOffer(t *testing.T) string {
	t.Helper()
	return "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n" +
		"a=extmap-allow-mixed\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 106 108\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n" +
		"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\n" +
		"a=fingerprint:sha-256 11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00\r\n" +
		"a=setup:actpass\r\na=mid:0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:toffset\r\n" +
		"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n" +
		"a=sendonly\r\na=msid:s v\r\na=rtcp-mux\r\na=rtcp-rsize\r\n" +
		"a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n" +
		"a=rtpmap:102 H264/90000\r\na=rtcp-fb:102 goog-remb\r\na=rtcp-fb:102 transport-cc\r\na=rtcp-fb:102 ccm fir\r\n" +
		"a=rtcp-fb:102 nack\r\na=rtcp-fb:102 nack pli\r\n" +
		"a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n" +
		"a=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\n" +
		"a=rtpmap:106 H264/90000\r\na=rtcp-fb:106 nack pli\r\na=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n" +
		"a=rtpmap:108 H264/90000\r\na=fmtp:108 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n" +
		"a=ssrc:1111 cname:x\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n" +
		"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
		"a=fingerprint:sha-256 11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00\r\n" +
		"a=setup:actpass\r\na=mid:1\r\na=extmap:14 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=sendonly\r\na=msid:s a\r\na=rtcp-mux\r\n" +
		"a=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n" +
		"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=ssrc:2222 cname:x\r\n"
}
