// Package hlstest publishes test streams into a gateway.Hub for the tests
// of the HTTP outputs (LL-HLS, the player pages): an H.264 clip made by
// ffmpeg, split into access units and written in real time, the way an
// ingest would.
package hlstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/internal/h264clip"
	"github.com/skyrelay/skyrelay/internal/publoop"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// Clip is an H.264 elementary stream cut into access units.
type Clip struct {
	FPS int
	AUs [][][]byte // NAL units without start codes
}

var (
	clipMu sync.Mutex
	clips  = map[string]*Clip{}
)

// H264Clip encodes a testsrc2 clip with libx264: no B-frames (WebRTC
// cannot carry them), one keyframe per second, one slice per frame. Clips
// are made once per test binary.
func H264Clip(t testing.TB, width, height, fps, seconds int) *Clip {
	t.Helper()
	testpeer.Require(t, "ffmpeg")
	key := strconv.Itoa(width) + "x" + strconv.Itoa(height) + "@" + strconv.Itoa(fps) + "/" + strconv.Itoa(seconds)
	clipMu.Lock()
	defer clipMu.Unlock()
	if c := clips[key]; c != nil {
		return c
	}
	dir, err := os.MkdirTemp("", "hlstest")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "clip.h264")
	cmd := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi",
		"-i", "testsrc2=size="+strconv.Itoa(width)+"x"+strconv.Itoa(height)+":rate="+strconv.Itoa(fps),
		"-t", strconv.Itoa(seconds), "-c:v", "libx264", "-profile:v", "main", "-preset", "veryfast",
		"-pix_fmt", "yuv420p", "-bf", "0", "-g", strconv.Itoa(fps), "-keyint_min", strconv.Itoa(fps),
		"-sc_threshold", "0", "-x264-params", "sliced-threads=0", "-f", "h264", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	es, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	c := &Clip{FPS: fps, AUs: AccessUnits(es)}
	if len(c.AUs) == 0 {
		t.Fatal("the clip has no access units")
	}
	clips[key] = c
	return c
}

// AccessUnits splits an Annex-B H.264 stream into access units: a new one
// starts at a slice whose first_mb_in_slice is 0 once the current unit has
// a slice; parameter sets and SEI go with the slice that follows them.
func AccessUnits(es []byte) [][][]byte {
	var aus [][][]byte
	var cur, pending [][]byte
	hasSlice := false
	for _, n := range h264clip.Split(es) {
		typ := n[0] & 0x1f
		if typ != 1 && typ != 5 {
			if hasSlice {
				pending = append(pending, n)
			} else {
				cur = append(cur, n)
			}
			continue
		}
		firstMB0 := len(n) > 1 && n[1]&0x80 != 0
		if hasSlice && firstMB0 {
			aus = append(aus, cur)
			cur, pending, hasSlice = pending, nil, false
		}
		cur = append(cur, pending...)
		pending = nil
		cur = append(cur, n)
		hasSlice = true
	}
	if hasSlice {
		aus = append(aus, cur)
	}
	return aus
}

// AACClip is an AAC-LC stream cut into access units of 1024 samples.
type AACClip struct {
	Config mpeg4audio.AudioSpecificConfig
	AUs    [][]byte
}

// AAC encodes a sine tone with ffmpeg's AAC encoder (48 kHz, mono).
func AAC(t testing.TB, seconds int) *AACClip {
	t.Helper()
	testpeer.Require(t, "ffmpeg")
	dir := t.TempDir()
	out := filepath.Join(dir, "clip.aac")
	cmd := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
		"-t", strconv.Itoa(seconds), "-c:a", "aac", "-b:a", "64k", "-ac", "1", "-f", "adts", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var pkts mpeg4audio.ADTSPackets
	if err := pkts.Unmarshal(b); err != nil || len(pkts) == 0 {
		t.Fatalf("ADTS: %v", err)
	}
	c := &AACClip{Config: mpeg4audio.AudioSpecificConfig{Type: pkts[0].Type, SampleRate: pkts[0].SampleRate,
		ChannelConfig: pkts[0].ChannelConfig}}
	for _, p := range pkts {
		c.AUs = append(c.AUs, p.AU)
	}
	return c
}

// Publisher writes a Clip into a hub path in real time, looping it.
type Publisher struct {
	Hub  *gateway.Hub
	Path string
	Clip *Clip
	// Audio, when set, is published as a second track, in step with the
	// video.
	Audio *AACClip

	loop publoop.Loop
}

// Publish starts a Publisher on path.
func Publish(t testing.TB, hub *gateway.Hub, path string, clip *Clip) *Publisher {
	t.Helper()
	return PublishAV(t, hub, path, clip, nil)
}

// PublishAV starts a Publisher of video and AAC audio on path.
func PublishAV(t testing.TB, hub *gateway.Hub, path string, clip *Clip, audio *AACClip) *Publisher {
	t.Helper()
	p := &Publisher{Hub: hub, Path: path, Clip: clip, Audio: audio}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// Start connects to the hub, as a publisher reconnecting after Stop does,
// and writes from the clip's first keyframe with timestamps from zero.
func (p *Publisher) Start() error {
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	tr, err := gateway.TrackFor(f)
	if err != nil {
		return err
	}
	tracks := []*gateway.Track{tr}
	if p.Audio != nil {
		cfg := p.Audio.Config
		a, err := gateway.TrackFor(&format.MPEG4Audio{PayloadTyp: 97, Config: &cfg, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3})
		if err != nil {
			return err
		}
		tracks = append(tracks, a)
	}
	return p.loop.Start(p.Hub, p.Path, tracks, p.run)
}

func (p *Publisher) run(pub *gateway.Publisher, stop <-chan struct{}) {
	frame := time.Second / time.Duration(p.Clip.FPS)
	tick := time.NewTicker(frame)
	defer tick.Stop()
	audio := 0 // next audio access unit
	for i := 0; ; i++ {
		for p.Audio != nil && int64(audio)*mpeg4audio.SamplesPerAccessUnit*int64(p.Clip.FPS) <= int64(i)*int64(p.Audio.Config.SampleRate) {
			pub.WriteUnit(1, int64(audio)*mpeg4audio.SamplesPerAccessUnit, [][]byte{p.Audio.AUs[audio%len(p.Audio.AUs)]})
			audio++
		}
		au := p.Clip.AUs[i%len(p.Clip.AUs)]
		n := 0
		for _, nalu := range au {
			n += len(nalu)
		}
		pub.AddBytes(n)
		pub.WriteUnit(0, int64(i)*int64(90000/p.Clip.FPS), au)
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// Stop disconnects the publisher; the stream waits the hub's grace period
// for it to come back.
func (p *Publisher) Stop() { p.loop.Stop() }
