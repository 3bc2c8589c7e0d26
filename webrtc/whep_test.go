package webrtc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/webrtc/whepclient"
)

// A pion viewer joins 1.5 s into a 2.5 s GOP: it gets the GOP's keyframe
// first, the backlog faster than real time with timestamps that match when
// the packets were sent, then live frames; video is H.264, audio Opus, with
// no sequence gap and no timestamp going backwards.
func TestWHEPPionViewerFastStart(t *testing.T) {
	e := newEnv(t)
	c := makeClip(t, clipSmall)
	pub := startPublisher(t, e.hub, "live/a", c)
	waitReady(t, e, "live/a")
	pub.waitGOPPosition(t, 45)

	cl := &whepclient.Client{URL: e.whep("live/a")}
	startClient(t, cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.WaitVideoFrames(ctx, 45+60); err != nil {
		t.Fatal(err)
	}
	st := cl.Stats()
	if st.VideoCodec != "video/H264" || st.AudioCodec != "audio/opus" {
		t.Fatalf("codecs %q %q, want video/H264 and audio/opus", st.VideoCodec, st.AudioCodec)
	}
	if st.FirstKeyframe.IsZero() || !st.FirstKeyframe.Equal(st.FirstVideoPacket) {
		t.Fatalf("the first video packet is not a keyframe")
	}
	if st.Lost != 0 || st.TimestampBackwards != 0 {
		t.Fatalf("lost %d packets, %d timestamps went backwards", st.Lost, st.TimestampBackwards)
	}
	if st.AudioPackets == 0 {
		t.Fatal("no audio packets")
	}
	// The backlog (45+ frames, 1.5 s of video) arrives at catch-up speed:
	// well within a second of the first packet.
	n := 0
	for _, at := range st.FrameArrivals {
		if at.Sub(st.FirstVideoPacket) < 700*time.Millisecond {
			n++
		}
	}
	if n < 45 {
		t.Fatalf("%d frames in the first 700 ms, want the 45-frame backlog at once", n)
	}
	// Timestamps follow send time (catch-up) and then the source (live):
	// between consecutive frames the RTP clock never disagrees with the
	// arrival clock by more than scheduling noise, which is what keeps a
	// browser's jitter buffer small after the fast start.
	for i := 1; i < len(st.VideoTimestamps); i++ {
		dts := time.Duration(int32(st.VideoTimestamps[i]-st.VideoTimestamps[i-1])) * time.Second / 90000
		darr := st.FrameArrivals[i].Sub(st.FrameArrivals[i-1])
		if d := dts - darr; d > 60*time.Millisecond || d < -60*time.Millisecond {
			t.Fatalf("frame %d: RTP advanced %v but arrival %v", i, dts, darr)
		}
	}
	if got := e.readers("live/a", "webrtc"); got != 1 {
		t.Fatalf("%d webrtc readers, want 1", got)
	}
	if s := e.hub.Stream("live/a"); s.BytesSent() == 0 {
		t.Fatal("bytes_sent not counted")
	}
}

// The server answers only with codecs the browser offered: one H.264
// profile matching the stream (Main here), no RTX, and its candidates.
func TestWHEPAnswer(t *testing.T) {
	e, _ := publishedEnv(t, "live/a", clipSmall)
	cl := &whepclient.Client{URL: e.whep("live/a")}
	startClient(t, cl)
	ans := cl.Answer()
	if !strings.Contains(ans, "profile-level-id=4d001f") || strings.Contains(ans, "profile-level-id=42") {
		t.Fatalf("answer does not pick the stream's Main profile:\n%s", ans)
	}
	if strings.Contains(ans, "rtx") {
		t.Fatalf("answer negotiates RTX:\n%s", ans)
	}
	if !strings.Contains(ans, "a=candidate:") || !strings.Contains(ans, "a=end-of-candidates") {
		t.Fatalf("answer is not a complete (non-trickle) answer:\n%s", ans)
	}
	if cl.ETag() == "" || !strings.HasPrefix(cl.Location(), e.base+"/live/a/whep/") {
		t.Fatalf("ETag %q, Location %q", cl.ETag(), cl.Location())
	}
}
