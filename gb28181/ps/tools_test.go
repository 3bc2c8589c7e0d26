package ps

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// PS written by tools nobody here wrote: GStreamer's mpegpsmux (with a PSM
// whose entry carries a descriptor) and ffmpeg's -f vob (no PSM, video on
// stream 0xE2 for H.264) and -f mpeg (MPEG-1 pack headers). The fixtures
// are made in a temporary directory on every run.

// needTool fails the test, naming the Debian package, when a tool is
// missing: these are the third-party peers the tests exist for.
func needTool(t testing.TB, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %s (apt-get install %s), or run make peers", tool, pkg, pkg)
	}
	return p
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

type fixtures struct {
	dir                  string
	h264, h265, aac      string // elementary streams
	gst, gstAV           string // mpegpsmux: raw H.264 (no timestamps); MP4 with AAC
	vob264, vob265, mpg1 string // ffmpeg
}

var (
	fixOnce sync.Once
	fix     fixtures
	fixErr  string
)

// toolFixtures makes the fixtures once per test binary.
func toolFixtures(t testing.TB) *fixtures {
	t.Helper()
	ffmpeg := needTool(t, "ffmpeg", "ffmpeg")
	gst := needTool(t, "gst-launch-1.0", "gstreamer1.0-tools")
	if _, err := exec.LookPath("gst-inspect-1.0"); err == nil {
		if exec.Command("gst-inspect-1.0", "mpegpsmux").Run() != nil {
			t.Fatal("GStreamer element mpegpsmux not found: install the Debian package gstreamer1.0-plugins-bad")
		}
	}
	fixOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ps-fixtures-")
		if err != nil {
			fixErr = err.Error()
			return
		}
		f := fixtures{dir: dir}
		p := func(n string) string { return filepath.Join(dir, n) }
		f.h264, f.h265, f.aac = p("clip.h264"), p("clip.h265"), p("clip.aac")
		f.gst, f.gstAV = p("gst.ps"), p("gstav.ps")
		f.vob264, f.vob265, f.mpg1 = p("vob264.ps"), p("vob265.ps"), p("mpeg1.ps")
		src := []string{"-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2"}
		x264 := []string{"-c:v", "libx264", "-bf", "0", "-g", "25"}
		x265 := []string{"-c:v", "libx265", "-bf", "0", "-g", "25", "-x265-params", "log-level=error"}
		join := func(parts ...[]string) []string {
			var r []string
			for _, x := range parts {
				r = append(r, x...)
			}
			return r
		}
		run(t, ffmpeg, join(src, x264, []string{"-f", "h264", f.h264})...)
		run(t, ffmpeg, join(src, x265, []string{"-f", "hevc", f.h265})...)
		run(t, ffmpeg, join(src, x264, []string{"-f", "vob", f.vob264})...)
		run(t, ffmpeg, join(src, x265, []string{"-f", "vob", f.vob265})...)
		run(t, ffmpeg, join(src, x264, []string{"-f", "mpeg", f.mpg1})...)
		run(t, ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000", "-t", "2", "-c:a", "aac", "-f", "adts", f.aac)
		mp4 := p("clip.mp4")
		run(t, ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", f.h264, "-i", f.aac, "-c", "copy", mp4)
		// The pipeline from the GB28181 notes: raw H.264 in, so the PES
		// carry no timestamps at all.
		run(t, gst, "-q", "filesrc", "location="+f.h264, "!", "h264parse", "!", "mpegpsmux", "!", "filesink", "location="+f.gst)
		run(t, gst, "-q", "filesrc", "location="+mp4, "!", "qtdemux", "name=d",
			"d.video_0", "!", "queue", "!", "h264parse", "!", "mpegpsmux", "name=m", "!", "filesink", "location="+f.gstAV,
			"d.audio_0", "!", "queue", "!", "aacparse", "!", "m.")
		fix = f
	})
	if fixErr != "" {
		t.Fatal(fixErr)
	}
	if fix.dir == "" {
		t.Fatal("fixtures were not made (see the first failing test)")
	}
	return &fix
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// esNALUs splits an elementary stream file into NAL units, leaving out
// access unit delimiters (muxers add or drop them).
func esNALUs(t testing.TB, c Codec, p string) [][]byte {
	all, _, _ := splitAnnexB(readFile(t, p), nil, 1<<20)
	return withoutAUD(c, all)
}

func withoutAUD(c Codec, nalus [][]byte) [][]byte {
	var out [][]byte
	for _, n := range nalus {
		if (c == CodecH264 && n[0]&0x1F == 9) || (c == CodecH265 && n[0]>>1&0x3F == 35) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// checkVideo asserts what every tool test wants: 50 units (2 s at 25 fps),
// the first a key frame with its parameter sets and the right picture
// size, PTS rising by exactly one frame at 90 kHz, and the NAL units equal
// to the elementary stream the tool was given.
func checkVideo(t *testing.T, c *collector, codec Codec, es string) {
	t.Helper()
	if len(c.video) != 50 {
		t.Fatalf("%d video units, want 50", len(c.video))
	}
	first := c.video[0]
	if first.Codec != codec || !first.Key {
		t.Fatalf("first unit: codec %v key %v", first.Codec, first.Key)
	}
	var w, h int
	types := map[int]bool{}
	for _, n := range first.NALUs {
		switch codec {
		case CodecH264:
			types[int(n[0]&0x1F)] = true
			if n[0]&0x1F == 7 {
				var sps h264.SPS
				if err := sps.Unmarshal(n); err != nil {
					t.Fatal(err)
				}
				w, h = sps.Width(), sps.Height()
			}
		case CodecH265:
			types[int(n[0]>>1&0x3F)] = true
			if n[0]>>1&0x3F == 33 {
				var sps h265.SPS
				if err := sps.Unmarshal(n); err != nil {
					t.Fatal(err)
				}
				w, h = sps.Width(), sps.Height()
			}
		}
	}
	if codec == CodecH264 && !(types[7] && types[8] && types[5]) {
		t.Fatalf("first unit lacks SPS/PPS/IDR: %v", types)
	}
	if codec == CodecH265 && !(types[32] && types[33] && types[34]) {
		t.Fatalf("first unit lacks VPS/SPS/PPS: %v", types)
	}
	if w != 320 || h != 240 {
		t.Fatalf("SPS says %dx%d", w, h)
	}
	var keys int
	var got [][]byte
	for i, au := range c.video {
		if au.Key {
			keys++
		}
		if i > 0 && au.PTS-c.video[i-1].PTS != 3600 {
			t.Fatalf("unit %d: PTS %d after %d, want +3600", i, au.PTS, c.video[i-1].PTS)
		}
		got = append(got, withoutAUD(codec, au.NALUs)...)
	}
	if keys != 2 {
		t.Fatalf("%d key frames, want 2 (-g 25)", keys)
	}
	if err := equalAU(got, esNALUs(t, codec, es)); err != nil {
		t.Fatalf("NAL units differ from the elementary stream: %v", err)
	}
}

func TestGStreamerMpegpsmux(t *testing.T) {
	f := toolFixtures(t)
	for _, step := range []int{0, 1400} {
		c, st := demuxAll(readFile(t, f.gst), step)
		checkVideo(t, c, CodecH264, f.h264)
		if st.PSMs == 0 || st.GuessedPTS != 50 || st.GarbageBytes != 0 {
			t.Fatalf("stats %+v", st)
		}
	}
}

func TestGStreamerMpegpsmuxWithAAC(t *testing.T) {
	f := toolFixtures(t)
	c, st := demuxAll(readFile(t, f.gstAV), 1400)
	checkVideo(t, c, CodecH264, f.h264)
	if st.GuessedPTS != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Every ADTS frame ffmpeg wrote comes out, with rising PTS.
	aac := readFile(t, f.aac)
	var want [][]byte
	for len(aac) >= 7 && isADTS(aac) {
		n := int(aac[3]&3)<<11 | int(aac[4])<<3 | int(aac[5]>>5)
		want = append(want, aac[7:n])
		aac = aac[n:]
	}
	if len(c.audio) != len(want) || len(want) < 90 {
		t.Fatalf("%d audio frames, want %d", len(c.audio), len(want))
	}
	for i, fr := range c.audio {
		if !bytes.Equal(fr.Data, want[i]) || fr.Codec != CodecAAC || fr.SampleRate != 48000 || fr.Channels != 1 {
			t.Fatalf("audio frame %d: %d bytes %v %d Hz %d ch", i, len(fr.Data), fr.Codec, fr.SampleRate, fr.Channels)
		}
		if i > 0 {
			if d := fr.PTS - c.audio[i-1].PTS; d < 1919 || d > 1921 {
				t.Fatalf("audio frame %d: PTS step %d, want 1920", i, d)
			}
		}
	}
}

func TestFFmpegVOB(t *testing.T) {
	f := toolFixtures(t)
	for _, tc := range []struct {
		name, file, es string
		codec          Codec
	}{
		{"h264", f.vob264, f.h264, CodecH264},
		{"h265", f.vob265, f.h265, CodecH265},
		{"mpeg1-pack", f.mpg1, f.h264, CodecH264},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, step := range []int{0, 1, 1400} {
				c, st := demuxAll(readFile(t, tc.file), step)
				checkVideo(t, c, tc.codec, tc.es)
				if st.PSMs != 0 || st.GarbageBytes != 0 || st.DroppedAUs != 0 {
					t.Fatalf("stats %+v", st)
				}
			}
		})
	}
}
