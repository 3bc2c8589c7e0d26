package rtmp

import (
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestFFmpegPublish: ffmpeg pushes h264-small.mp4 to a DJI-style path
// (slashes in the video_id, a secret in the query); frames reach a reader
// and the secret never reaches the log.
func TestFFmpegPublish(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	const path = "1581FDEMO0000000AA01/99-0-0/normal-0"
	const secret = "s3cr3t-never-logged"
	pushFFmpeg(t, testpeer.Clip(t, testpeer.ClipH264Small), e.url(path)+"?secret="+secret, true)

	st := e.waitReady(t, path, 10*time.Second)
	k := attach(t, st)
	frames := k.waitVideo(t, 30, 10*time.Second)

	if !frames[0].Unit.Key {
		t.Fatal("the first frame a new reader gets is not a keyframe")
	}
	info := st.Info()
	if len(info.Tracks) != 1 || info.Tracks[0].Codec != gateway.CodecH264 || info.Tracks[0].Width != 320 || info.Tracks[0].Height != 240 {
		t.Fatalf("tracks %+v, want one h264 320x240", info.Tracks)
	}
	if info.Source.Protocol != "rtmp" || info.BytesReceived == 0 {
		t.Fatalf("source %+v, bytes received %d", info.Source, info.BytesReceived)
	}
	if st.HasBFrames() {
		t.Fatal("h264-small has no B-frames")
	}
	for i := 1; i < len(frames); i++ {
		if frames[i].Unit.PTS <= frames[i-1].Unit.PTS {
			t.Fatalf("PTS not increasing at frame %d: %d after %d", i, frames[i].Unit.PTS, frames[i-1].Unit.PTS)
		}
	}
	if d := frames[1].Unit.PTS - frames[0].Unit.PTS; d != 90000/25 {
		t.Fatalf("frame interval %d ticks, want %d (25 fps)", d, 90000/25)
	}
	if strings.Contains(e.log.String(), secret) {
		t.Fatal("the secret from the URL's query was logged")
	}
	if !strings.Contains(e.log.String(), "path="+path) {
		t.Fatalf("the log does not name the path:\n%s", e.log)
	}
}
