package rtsp

import (
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// ffmpeg publishes H.264 + AAC over RTSP (TCP, then UDP); ffprobe reads it
// back over RTSP on both transports.
func TestFFmpegPublishRead(t *testing.T) {
	for _, pushTransport := range []string{"tcp", "udp"} {
		t.Run("push_"+pushTransport, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 0)
			clip := avClip(t)
			path := "live/" + pushTransport
			push(t, clip, pushTransport, e.url(path))
			s := e.waitReady(t, path, 15*time.Second)

			src, online := s.Source()
			if !online || src.Protocol != "rtsp" {
				t.Fatalf("source %+v online %v, want an rtsp publisher", src, online)
			}
			if len(s.Tracks()) != 2 {
				t.Fatalf("%d tracks, want video and audio", len(s.Tracks()))
			}
			for _, readTransport := range []string{"tcp", "udp"} {
				probeAV(t, e.url(path), readTransport, true)
			}
			if s.BytesReceived() == 0 || s.BytesSent() == 0 {
				t.Fatalf("bytes received %d, sent %d: both should count", s.BytesReceived(), s.BytesSent())
			}
			// The readers left: the sink and the ServerStream go with them.
			testpeer.Eventually(t, 5*time.Second, "the RTSP output to close", func() bool { return e.outputs() == 0 && readerCount(s) == 0 })
		})
	}
}

// The stream core publishes (how RTMP, WHIP and GB28181 sources reach RTSP
// readers): the packets the core made once go out through the ServerStream.
func TestCorePublishRTSPRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	testpeer.Require(t, "ffprobe")
	clip := hlstestClip(t)
	publishCore(t, e, "drone/cam", clip, true)
	e.waitReady(t, "drone/cam", 10*time.Second)
	probeAV(t, e.url("drone/cam"), "tcp", true)
}
