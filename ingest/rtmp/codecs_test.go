package rtmp

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestH265EnhancedRTMP: H.265 over Enhanced RTMP (FourCC hvc1). ffmpeg
// 5.1, the peer on this machine, cannot send it ("Video codec hevc not
// compatible with flv"; Enhanced RTMP needs ffmpeg 6.1 or later), so
// gortmplib's client writes h265-small.mp4's access units. What the reader
// gets is written out as Annex-B and decoded by ffprobe.
func TestH265EnhancedRTMP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	aus := elementary(t, testpeer.Clip(t, testpeer.ClipH265Small), true)
	var vps, sps, pps []byte
	for _, n := range aus[0] {
		switch (n[0] >> 1) & 0x3f {
		case 32:
			vps = n
		case 33:
			sps = n
		case 34:
			pps = n
		}
	}
	track := &format.H265{PayloadTyp: 96, VPS: vps, SPS: sps, PPS: pps}
	c := dialPublish(t, e.url("live/h265"))
	w := &gortmplib.Writer{Conn: c, Tracks: []format.Format{track}}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	var k *sink
	start := time.Now()
	for i, au := range aus {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / 25 / 4))) // 4x real time
		if err := w.WriteH265(track, time.Duration(i)*time.Second/25, time.Duration(i)*time.Second/25, au); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			k = attach(t, e.waitReady(t, "live/h265", 5*time.Second))
		}
	}
	frames := k.waitVideo(t, len(aus), 10*time.Second)
	st := e.hub.Stream("live/h265")
	if info := st.Info(); info.Tracks[0].Codec != gateway.CodecH265 || info.Tracks[0].Width != 320 {
		t.Fatalf("tracks %+v, want h265 320x240", info.Tracks)
	}
	var es bytes.Buffer
	for _, f := range frames {
		for _, n := range f.Unit.Payload {
			es.Write([]byte{0, 0, 0, 1})
			es.Write(n)
		}
	}
	file := filepath.Join(t.TempDir(), "out.h265")
	if err := os.WriteFile(file, es.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	p := probeVideo(t, file, "100")
	if p.Codec != "hevc" || p.Width != 320 || p.Frames != len(aus) {
		t.Fatalf("ffprobe of what the reader got: %+v, want hevc 320x240 with %d frames", p, len(aus))
	}
}

// avClip is a 320x240 25 fps H.264 clip with AAC audio, 4 s, a keyframe
// every second, no B-frames.
func avClip(t testing.TB) string { return testpeer.Clip(t, testpeer.ClipH264SmallAAC) }

// TestFFmpegAudioVideo: ffmpeg pushes H.264 and AAC; both tracks reach the
// stream, and ffprobe playing it back over RTMP finds both with packets.
func TestFFmpegAudioVideo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	pushFFmpeg(t, avClip(t), e.url("live/av"), true)
	st := e.waitReady(t, "live/av", 10*time.Second)
	tr := st.Tracks()
	if len(tr) != 2 || tr[0].Codec != gateway.CodecH264 || tr[1].Codec != gateway.CodecAAC || tr[1].ClockRate() != 48000 {
		t.Fatalf("tracks %v, want h264 and aac at 48 kHz", tr)
	}
	res := testpeer.FFprobe(t, testpeer.Context(t, 30*time.Second), e.url("live/av"), "-read_intervals", "%+2")
	v, okV := res.Video()
	a, okA := res.Audio()
	if !okV || v.Codec != "h264" || v.Packets == 0 || !okA || a.Codec != "aac" || a.Packets == 0 {
		t.Fatalf("ffprobe over RTMP: %s", res.JSON)
	}
}

// TestAudioCodecs: Opus (Enhanced RTMP), G.711 and AAC next to H.264, as
// gortmplib's client writes them.
func TestAudioCodecs(t *testing.T) {
	t.Parallel()
	asc := &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 44100, ChannelCount: 2}
	for _, tc := range []struct {
		codec gateway.Codec
		f     format.Format
		clock int
	}{
		{gateway.CodecOpus, &format.Opus{PayloadTyp: 96, ChannelCount: 2}, 48000},
		{gateway.CodecG711, &format.G711{PayloadTyp: 8, SampleRate: 8000, ChannelCount: 1}, 8000},
		{gateway.CodecAAC, &format.MPEG4Audio{PayloadTyp: 96, Config: asc}, 44100},
	} {
		t.Run(string(tc.codec), func(t *testing.T) {
			e := newEnv(t, 0)
			cr := newCrafted(t, e.url("live/"+string(tc.codec)))
			video := &format.H264{PayloadTyp: 96, SPS: cr.sps, PPS: cr.pps, PacketizationMode: 1}
			w := &gortmplib.Writer{Conn: cr.c, Tracks: []format.Format{video, tc.f}}
			if err := w.Initialize(); err != nil {
				t.Fatal(err)
			}
			var k *sink
			for i := 0; i < 30; i++ {
				pts := time.Duration(i) * 40 * time.Millisecond
				var err error
				switch f := tc.f.(type) {
				case *format.Opus:
					err = w.WriteOpus(f, pts, []byte{0xfc, 0xff, 0xfe})
				case *format.G711:
					err = w.WriteG711(f, pts, bytes.Repeat([]byte{0xd5}, 320))
				case *format.MPEG4Audio:
					err = w.WriteMPEG4Audio(f, pts, []byte{0x21, 0x00, 0x49, 0x90})
				}
				if err == nil {
					err = w.WriteH264(video, pts, pts, cr.aus[i])
				}
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					k = attach(t, e.waitReady(t, "live/"+string(tc.codec), 5*time.Second))
				}
			}
			testpeer.Eventually(t, 5*time.Second, "audio frames", func() bool {
				k.mu.Lock()
				defer k.mu.Unlock()
				n := 0
				for _, f := range k.frames {
					if f.Track.Codec == tc.codec {
						n++
					}
				}
				return n >= 29
			})
			tr := e.hub.Stream("live/" + string(tc.codec)).Tracks()
			if len(tr) != 2 || tr[1].Codec != tc.codec || tr[1].ClockRate() != tc.clock {
				t.Fatalf("tracks %v, want h264 and %s at %d Hz", tr, tc.codec, tc.clock)
			}
		})
	}
}
