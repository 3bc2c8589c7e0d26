package rtmp

import (
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// Each test here crafts a stream showing one field report of
// docs/field-quirks.md, "DJI video over RTMP". None may end the stream: the
// reader keeps getting frames, the publisher stays online, and the core's
// counters move where the report says something was dropped or repaired.

// metaVideo is onMetaData announcing H.264 only.
var metaVideo = amf0.Object{{Key: "videocodecid", Value: float64(7)}, {Key: "width", Value: float64(320)}, {Key: "height", Value: float64(240)}}

// quirkEnv starts a server and a crafted publisher on path.
func quirkEnv(t *testing.T, path string) (*env, *crafted) {
	e := newEnv(t, 0)
	return e, newCrafted(t, e.url(path))
}

// stats is a copy of the hub's codec counters.
type stats struct{ skipped, empty, repaired uint64 }

func statsOf(h *gateway.Hub) stats {
	s := h.Stats()
	return stats{s.Skipped.Load(), s.Empty.Load(), s.Repaired.Load()}
}

// online tells whether the path still has its publisher.
func online(e *env, path string) bool {
	st := e.hub.Stream(path)
	if st == nil {
		return false
	}
	_, on := st.Source()
	return on
}

// TestM350InvalidNALUs: M350 RTK and Mavic 3E tags whose NAL unit lengths
// do not add up (mediamtx#2375: "unable to decode AVCC - invalid NALU",
// fixed there by accepting empty units). Here: zero-length units between
// real ones, a length running past the end of the tag, and tags of
// garbage. What parses is kept, the rest is skipped and counted.
func TestM350InvalidNALUs(t *testing.T) {
	t.Parallel()
	const path = "m350/invalid-nalu"
	e, c := quirkEnv(t, path)
	before := statsOf(e.hub)
	c.meta(metaVideo)
	c.avcConfig()

	ready := make(chan *gateway.Stream, 1)
	var k *sink
	garbage, truncated, empties := 0, 0, 0
	c.frames(100, 4, func(i int, au [][]byte) (time.Duration, []byte) {
		dts := time.Duration(i) * time.Second / craftedFPS
		switch {
		case i%25 == 13: // a whole tag of garbage: its first length is huge
			garbage++
			return dts, []byte{0x7f, 0xff, 0xff, 0xff, 0x41, 0x9a, 0x00}
		case i%10 == 3: // a last length running past the end of the tag
			truncated++
			b := avcc(au...)
			return dts, append(b, 0, 0, 0x10, 0x00, 0x41, 0x9a)
		case i%10 == 7: // zero-length units between real ones
			empties += 2
			nalus := append([][]byte{{}}, au...)
			return dts, avcc(append(nalus, []byte{})...)
		}
		return dts, avcc(au...)
	}, func(i int, _ time.Duration) {
		if i == 30 {
			st := e.waitReady(t, path, 5*time.Second)
			k = attach(t, st)
			ready <- st
		}
	})
	st := <-ready
	// Frames 30..99 minus the garbage tags among them (38, 63, 88) reach
	// the reader live, plus the GOP it joined in.
	frames := k.waitVideo(t, 70-3, 10*time.Second)
	after := statsOf(e.hub)
	if got := after.skipped - before.skipped; got < uint64(garbage+truncated) {
		t.Errorf("skipped %d, want at least %d (garbage and truncated tags)", got, garbage+truncated)
	}
	if got := after.empty - before.empty; got != uint64(empties) {
		t.Errorf("empty NAL units dropped %d, want %d", got, empties)
	}
	if !online(e, path) || st.Info().Tracks[0].Width != 320 {
		t.Fatalf("the stream did not survive: online %v, info %+v\n%s", online(e, path), st.Info(), e.log)
	}
	for _, f := range frames {
		for _, n := range f.Unit.Payload {
			if len(n) == 0 {
				t.Fatal("a reader got an empty NAL unit")
			}
		}
	}
}

// TestM30ZeroLengthNALUs: the M30 puts zero-length NAL units into its
// tags (SRS#3750: HLS broke and the stream unpublished at random). They are
// dropped and counted; every frame still arrives.
func TestM30ZeroLengthNALUs(t *testing.T) {
	t.Parallel()
	const path = "m30/empty-nalu"
	e, c := quirkEnv(t, path)
	before := statsOf(e.hub)
	c.meta(metaVideo)
	c.avcConfig()
	var k *sink
	sent := 0
	c.frames(75, 4, func(i int, au [][]byte) (time.Duration, []byte) {
		dts := time.Duration(i) * time.Second / craftedFPS
		if i%5 == 2 {
			sent++
			return dts, avcc(append(append([][]byte{}, au...), []byte{})...)
		}
		return dts, avcc(au...)
	}, func(i int, _ time.Duration) {
		if i == 1 {
			k = attach(t, e.waitReady(t, path, 5*time.Second))
		}
	})
	frames := k.waitVideo(t, 75, 10*time.Second)
	if got := statsOf(e.hub).empty - before.empty; got != uint64(sent) {
		t.Fatalf("empty NAL units dropped %d, want %d", got, sent)
	}
	for _, f := range frames {
		for _, n := range f.Unit.Payload {
			if len(n) == 0 {
				t.Fatal("a reader got an empty NAL unit")
			}
		}
	}
	if !online(e, path) {
		t.Fatal("the publisher was dropped")
	}
}

// TestDock3CustomSEI: Dock 3 puts a unit with header byte 0xF5 (forbidden
// bit set) before every slice (docs/field-quirks.md, "Dock 3's custom SEI"). The core drops it as
// a unit a browser decoder rejects and counts it; the clip's own SEI
// passes; ffprobe reading the stream back over RTMP decodes every frame
// without a warning.
func TestDock3CustomSEI(t *testing.T) {
	t.Parallel()
	const path = "dock3/sei"
	e, c := quirkEnv(t, path)
	before := statsOf(e.hub)
	c.meta(metaVideo)
	c.avcConfig()
	sei := []byte{0xf5, 'D', 'J', 'I', 0x00, 0x01, 0x02, 0x80}
	var k *sink
	type result struct {
		p   probe
		err error
	}
	probed := make(chan result, 1)
	testpeer.Require(t, "ffprobe")
	c.frames(125, 1, func(i int, au [][]byte) (time.Duration, []byte) {
		return time.Duration(i) * time.Second / craftedFPS, avcc(withBefore(au, sei)...)
	}, func(i int, _ time.Duration) {
		if i == 1 {
			k = attach(t, e.waitReady(t, path, 5*time.Second))
			go func() {
				p, err := probeVideoErr(t, e.url(path), "3")
				probed <- result{p, err}
			}()
		}
	})
	frames := k.waitVideo(t, 125, 10*time.Second)
	if hasNALU(frames, func(b byte) bool { return b == 0xf5 }) {
		t.Fatal("a reader got the 0xF5 unit")
	}
	if !hasNALU(frames, func(b byte) bool { return b&0x1f == 6 }) {
		t.Fatal("the clip's own SEI did not pass")
	}
	if got := statsOf(e.hub).skipped - before.skipped; got < 125 {
		t.Fatalf("skipped %d, want at least 125 (one 0xF5 unit per frame)", got)
	}
	r := <-probed
	if r.err != nil {
		t.Fatal(r.err)
	}
	p := r.p
	if p.Codec != "h264" || p.Width != 320 || p.Frames < 50 {
		t.Fatalf("ffprobe over RTMP: %+v, want h264 320x240 and 50+ frames", p)
	}
	if strings.TrimSpace(p.Stderr) != "" {
		t.Fatalf("ffprobe warned while decoding:\n%s", p.Stderr)
	}
}

// TestDJIMetadataAudioNeverComes: onMetaData announces AAC, only video
// comes, and timestamps sometimes go backwards (go2rtc#1969: HLS froze).
// The stream starts without audio after TrackWait (TestFirstFrameDelay
// times it); a small step back is repaired by the core; a restart of the clock is
// rebased; the reader sees increasing timestamps throughout.
func TestDJIMetadataAudioNeverComes(t *testing.T) {
	t.Parallel()
	const path = "dock/no-audio"
	e, c := quirkEnv(t, path)
	before := statsOf(e.hub)
	c.meta(amf0.Object{{Key: "videocodecid", Value: float64(7)}, {Key: "audiocodecid", Value: float64(10)},
		{Key: "audiosamplerate", Value: float64(44100)}})
	c.avcConfig()
	var k *sink
	c.frames(100, 2, func(i int, au [][]byte) (time.Duration, []byte) {
		n := i
		switch {
		case i >= 50 && i < 53: // three frames step back 120 ms
			n = i - 3
		case i >= 75: // the device's clock starts again from zero
			n = i - 75
		}
		return time.Duration(n) * time.Second / craftedFPS, avcc(au...)
	}, func(i int, _ time.Duration) {
		if i == 10 {
			k = attach(t, e.waitReady(t, path, 5*time.Second))
		}
	})
	frames := k.waitVideo(t, 90, 10*time.Second)
	st := e.hub.Stream(path)
	if tr := st.Tracks(); len(tr) != 1 || tr[0].Codec != gateway.CodecH264 {
		t.Fatalf("tracks %v, want h264 only", tr)
	}
	if got := statsOf(e.hub).repaired - before.repaired; got < 3 {
		t.Fatalf("timestamps repaired %d, want at least 3", got)
	}
	for i := 1; i < len(frames); i++ {
		if frames[i].Unit.PTS <= frames[i-1].Unit.PTS {
			t.Fatalf("PTS not increasing at frame %d: %d after %d", i, frames[i].Unit.PTS, frames[i-1].Unit.PTS)
		}
	}
	// Across the restart the stream goes on at the frame rate, not one
	// tick per frame.
	last := frames[len(frames)-1].Unit.PTS - frames[len(frames)-2].Unit.PTS
	if last != 90000/craftedFPS {
		t.Fatalf("frame interval after the clock restart is %d ticks, want %d", last, 90000/craftedFPS)
	}
}

// TestDJIExtraDataTrack: some docks send a data track ("Stream Data:
// none") that breaks MP4 muxing. Data messages are ignored: the stream has
// one video track, and ffprobe reading it back finds only that.
func TestDJIExtraDataTrack(t *testing.T) {
	t.Parallel()
	const path = "dock/data-track"
	e, c := quirkEnv(t, path)
	c.meta(amf0.Object{{Key: "videocodecid", Value: float64(7)}, {Key: "datastream", Value: true}})
	c.avcConfig()
	var k *sink
	type result struct {
		kinds []string
		err   error
	}
	probed := make(chan result, 1)
	testpeer.Require(t, "ffprobe")
	c.frames(100, 1, nil, func(i int, dts time.Duration) {
		if i%5 == 0 {
			c.write(&message.DataAMF0{ChunkStreamID: 4, MessageStreamID: 0x1000000,
				Payload: []interface{}{"onDJIStreamData", amf0.Object{{Key: "lat", Value: 22.5}, {Key: "lon", Value: 113.9}}}})
			c.write(&message.DataAMF0{ChunkStreamID: 4, MessageStreamID: 0x1000000,
				Payload: []interface{}{"@setDataFrame", "onTextData", amf0.Object{{Key: "text", Value: "osd"}}}})
		}
		if i == 1 {
			k = attach(t, e.waitReady(t, path, 5*time.Second))
			go func() {
				kinds, err := probeStreams(e.url(path))
				probed <- result{kinds, err}
			}()
		}
	})
	k.waitVideo(t, 100, 10*time.Second)
	if tr := e.hub.Stream(path).Tracks(); len(tr) != 1 {
		t.Fatalf("%d tracks, want the video track only", len(tr))
	}
	r := <-probed
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.kinds) != 1 || r.kinds[0] != "video" {
		t.Fatalf("ffprobe over RTMP found streams %v, want [video]", r.kinds)
	}
}

// TestMini4ProAudioCodec15: a Mini 4 Pro sends audio with codec id 15,
// which ended the connection in mediamtx (#2564: "unsupported audio codec:
// 15"). Those tags are skipped and counted; the video plays.
func TestMini4ProAudioCodec15(t *testing.T) {
	t.Parallel()
	const path = "mini4pro/codec15"
	e, c := quirkEnv(t, path)
	before := statsOf(e.hub)
	c.meta(amf0.Object{{Key: "videocodecid", Value: float64(7)}, {Key: "audiocodecid", Value: float64(15)}})
	c.avcConfig()
	var k *sink
	audioTags := 0
	c.frames(100, 4, nil, func(i int, dts time.Duration) {
		for j := 0; j < 2; j++ { // about two audio frames per video frame
			c.audio(dts+time.Duration(j)*20*time.Millisecond, 15, 0, []byte{0x01, 0x02, 0x03, 0x04})
			audioTags++
		}
		if i == 1 {
			k = attach(t, e.waitReady(t, path, 5*time.Second))
		}
	})
	k.waitVideo(t, 100, 10*time.Second)
	if tr := e.hub.Stream(path).Tracks(); len(tr) != 1 || tr[0].Codec != gateway.CodecH264 {
		t.Fatalf("tracks %v, want h264 only", tr)
	}
	if got := statsOf(e.hub).skipped - before.skipped; got < uint64(audioTags) {
		t.Fatalf("skipped %d, want at least %d (every codec-15 tag)", got, audioTags)
	}
	if !online(e, path) {
		t.Fatal("the publisher was dropped")
	}
}
