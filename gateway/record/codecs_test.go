package record

import (
	"fmt"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/ingest/rtsp"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestRecordCodecsRTSP: ffmpeg publishes over RTSP what RTMP cannot
// carry: H.265 with Opus, H.264 with G.711 (stored as 16-bit PCM, since
// MP4 has no G.711 entry). Each recording decodes fully, with rising DTS
// and audio present.
func TestRecordCodecsRTSP(t *testing.T) {
	testpeer.Require(t, "ffmpeg", "ffprobe")
	g := newRig(t, func(r *Recorder) { r.PartDuration = 200 * time.Millisecond })
	srv := &rtsp.Server{Address: "127.0.0.1:0", Hub: g.hub, Auth: &authz.Auth{}, Log: g.rec.Log}
	if err := srv.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	for i, c := range []struct {
		clip, audio      string
		wantV, wantA     string
		extraAudioParams []string
	}{
		{testpeer.ClipH265Small, "libopus", "hevc", "opus", []string{"-ar", "48000"}},
		{testpeer.ClipH264Small, "pcm_mulaw", "h264", "pcm_s16be", []string{"-ar", "8000", "-ac", "1"}},
	} {
		t.Run(c.wantV+"+"+c.wantA, func(t *testing.T) {
			path := fmt.Sprintf("codec/%d", i)
			clip := testpeer.Clip(t, c.clip)
			args := []string{"-v", "error", "-re", "-i", clip, "-f", "lavfi", "-i", "sine=frequency=440:duration=5",
				"-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", c.audio}
			args = append(args, c.extraAudioParams...)
			args = append(args, "-shortest", "-f", "rtsp", "-rtsp_transport", "tcp", "rtsp://"+srv.Addr().String()+"/"+path)
			ctx := testpeer.Context(t, 60*time.Second)
			if out, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg: %v %s", err, out)
			}
			var file string
			for file == "" {
				for _, f := range g.waitSegments(t, 1, 30*time.Second) {
					if strings.Contains(f, "/"+path+"/") {
						file = f
					}
				}
				if file == "" {
					<-g.cond
				}
			}
			m := checkMedia(t, file)
			if m.video != c.wantV || m.audio != c.wantA {
				t.Fatalf("tracks %q/%q, want %s/%s", m.video, m.audio, c.wantV, c.wantA)
			}
			if m.nonIncreasing != 0 || m.frames < 100 || m.audioPk < 20 {
				t.Fatalf("%+v: want >= 100 frames of 125, audio, rising DTS", m)
			}
		})
	}
}

// TestRecordBFrames: a stream with B-frames is stored with its decode
// order: DTS from the reordering rise strictly, every frame decodes, and
// presentation offsets are kept (some packets have PTS ahead of DTS).
func TestRecordBFrames(t *testing.T) {
	testpeer.Require(t, "ffmpeg", "ffprobe")
	clip := testpeer.Clip(t, testpeer.ClipH264BFrames)
	g := newRig(t, func(r *Recorder) { r.PartDuration = 200 * time.Millisecond })
	g.push(t, clip, "bframes/cam")
	files := g.waitSegments(t, 1, 30*time.Second)
	m := checkMedia(t, files[0])
	if m.video != "h264" || m.nonIncreasing != 0 || m.frames < 120 {
		t.Fatalf("%+v: want h264, rising DTS, >= 120 of 125 frames", m)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts,dts", "-of", "csv=p=0", files[0]).Output()
	if err != nil {
		t.Fatal(err)
	}
	reordered := 0
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var pts, dts int64
		if _, err := fmt.Sscanf(l, "%d,%d", &pts, &dts); err == nil && pts != dts {
			reordered++
		}
	}
	if reordered < 50 {
		t.Fatalf("%d packets with PTS != DTS: the reordering was lost", reordered)
	}
}
