package ps

import (
	"bytes"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// TestRoundTripVideo muxes fake H.264 and H.265 units, demuxes them back in
// chunks of many sizes, and wants every NAL unit and timestamp unchanged.
func TestRoundTripVideo(t *testing.T) {
	for _, codec := range []Codec{CodecH264, CodecH265} {
		for _, pes := range []int{0, 1000} {
			aus := fakeGOP(codec, 30, 1)
			m := &Muxer{Video: codec, MaxPESPayload: pes}
			ps := muxGOP(t, m, aus, 1<<33-30000) // crosses the 33-bit wrap
			for _, step := range []int{0, 1, 7, 188, 1400, 65536} {
				c, st := demuxAll(ps, step)
				if len(c.video) != len(aus) {
					t.Fatalf("%v pes=%d step=%d: %d units, want %d (stats %+v)", codec, pes, step, len(c.video), len(aus), st)
				}
				for i, got := range c.video {
					if err := equalAU(got.NALUs, aus[i]); err != nil {
						t.Fatalf("%v pes=%d step=%d unit %d: %v", codec, pes, step, i, err)
					}
					if want := int64(1<<33-30000) + int64(i)*3600; got.PTS != want || got.DTS != want {
						t.Fatalf("unit %d: PTS %d DTS %d, want %d", i, got.PTS, got.DTS, want)
					}
					if got.Codec != codec || got.Key != (i == 0) || got.StreamID != VideoStreamID {
						t.Fatalf("unit %d: %+v", i, got)
					}
				}
				if !c.video[0].Discontinuity || c.video[1].Discontinuity {
					t.Fatal("only the first unit should be flagged as a discontinuity")
				}
				if st.GarbageBytes != 0 || st.DroppedAUs != 0 || st.PSMs != 1 || st.GuessedPTS != 0 {
					t.Fatalf("stats %+v", st)
				}
			}
		}
	}
}

// TestRoundTripDTS keeps a DTS that differs from the PTS (B-frames).
func TestRoundTripDTS(t *testing.T) {
	aus := fakeGOP(CodecH264, 3, 2)
	m := &Muxer{Video: CodecH264}
	var ps []byte
	for i, au := range aus {
		ps, _ = m.AppendVideo(ps, int64(i)*3600+7200, int64(i)*3600, au, i == 0)
	}
	c, _ := demuxAll(ps, 100)
	if len(c.video) != 3 {
		t.Fatalf("%d units", len(c.video))
	}
	for i, au := range c.video {
		if au.PTS != int64(i)*3600+7200 || au.DTS != int64(i)*3600 {
			t.Fatalf("unit %d: PTS %d DTS %d", i, au.PTS, au.DTS)
		}
	}
}

func TestRoundTripAAC(t *testing.T) {
	conf := &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 44100, ChannelConfig: 2}
	m := &Muxer{Video: CodecH264, Audio: CodecAAC, AAC: conf}
	aus := fakeGOP(CodecH264, 10, 3)
	var ps []byte
	var frames [][]byte
	for i := 0; i < 40; i++ {
		f := bytes.Repeat([]byte{byte(i + 1)}, 100+i*13)
		frames = append(frames, f)
		pts := int64(i) * 1024 * 90000 / 44100
		var err error
		if ps, err = m.AppendAudio(ps, pts, f); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			ps, _ = m.AppendVideo(ps, pts, pts, aus[i/4], i == 0)
		}
	}
	for _, step := range []int{0, 3, 500} {
		c, st := demuxAll(ps, step)
		if len(c.audio) != len(frames) || len(c.video) != 10 {
			t.Fatalf("step %d: %d frames, %d units (stats %+v)", step, len(c.audio), len(c.video), st)
		}
		for i, f := range c.audio {
			if !bytes.Equal(f.Data, frames[i]) || f.Codec != CodecAAC || f.SampleRate != 44100 || f.Channels != 2 || f.Samples != 1024 {
				t.Fatalf("frame %d: %+v", i, f)
			}
			if want := int64(i) * 1024 * 90000 / 44100; f.PTS != want {
				t.Fatalf("frame %d: PTS %d, want %d", i, f.PTS, want)
			}
			if cf := f.AACConfig(); cf.Type != mpeg4audio.ObjectTypeAACLC || cf.ChannelConfig != 2 {
				t.Fatalf("config %+v", cf)
			}
		}
	}
}

func TestRoundTripG711(t *testing.T) {
	for _, codec := range []Codec{CodecG711A, CodecG711U} {
		m := &Muxer{Audio: codec}
		var ps []byte
		for i := 0; i < 25; i++ {
			ps, _ = m.AppendAudio(ps, int64(i)*3600, bytes.Repeat([]byte{0xD5 ^ byte(i)}, 320))
		}
		c, st := demuxAll(ps, 77)
		if len(c.audio) != 25 {
			t.Fatalf("%v: %d frames (stats %+v)", codec, len(c.audio), st)
		}
		for i, f := range c.audio {
			if f.Codec != codec || f.PTS != int64(i)*3600 || len(f.Data) != 320 || f.Data[0] != 0xD5^byte(i) || f.SampleRate != 8000 || f.Samples != 320 {
				t.Fatalf("%v frame %d: %+v", codec, i, f)
			}
		}
	}
}

// TestMuxerPSM checks the program stream map the muxer writes, CRC
// included, against the parser.
func TestMuxerPSM(t *testing.T) {
	m := &Muxer{Video: CodecH265, Audio: CodecG711A}
	b := m.appendPSM(nil)
	if crc32MPEG(b) != 0 {
		t.Fatal("CRC_32 over the whole section must come out 0")
	}
	e := parsePSM(b[6:], make([]psmEntry, 0, 4))
	if len(e) != 2 || e[0] != (psmEntry{0x24, 0xE0}) || e[1] != (psmEntry{0x90, 0xC0}) {
		t.Fatalf("entries %+v", e)
	}
}

func TestMuxerErrors(t *testing.T) {
	m := &Muxer{}
	if _, err := m.AppendVideo(nil, 0, 0, nil, true); err != ErrNoStream {
		t.Fatal(err)
	}
	if _, err := m.AppendAudio(nil, 0, nil); err != ErrNoStream {
		t.Fatal(err)
	}
	m.Audio = CodecAAC
	if _, err := m.AppendAudio(nil, 0, []byte{1}); err != ErrNoAACConf {
		t.Fatal(err)
	}
	m.AAC = &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 12345, ChannelConfig: 1}
	if _, err := m.AppendAudio(nil, 0, []byte{1}); err == nil {
		t.Fatal("odd sample rate accepted")
	}
}
