package webrtc_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/internal/publoop"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// clipSpec describes a test clip made by ffmpeg from its test sources.
type clipSpec struct {
	Name          string
	Width, Height int
	FPS, GOP      int
	Seconds       int
	Codec         string // "h264" or "h265"
	BFrames       bool
	Audio         string // "", "opus", "aac"
}

// Clips used by this package's tests. DJI devices send a keyframe every
// 2–3 s, hence GOP 75 at 30 fps.
var (
	clipSmall   = clipSpec{Name: "h264-small-gop75-opus", Width: 320, Height: 240, FPS: 30, GOP: 75, Seconds: 10, Codec: "h264", Audio: "opus"}
	clipAAC     = clipSpec{Name: "h264-small-aac", Width: 320, Height: 240, FPS: 30, GOP: 30, Seconds: 4, Codec: "h264", Audio: "aac"}
	clipBFrames = clipSpec{Name: "h264-bframes", Width: 320, Height: 240, FPS: 30, GOP: 30, Seconds: 4, Codec: "h264", BFrames: true}
	clipH265    = clipSpec{Name: "h265-small", Width: 320, Height: 240, FPS: 30, GOP: 30, Seconds: 4, Codec: "h265"}
	clip720p    = clipSpec{Name: "h264-720p30-gop75-opus", Width: 1280, Height: 720, FPS: 30, GOP: 75, Seconds: 10, Codec: "h264", Audio: "opus"}
)

// clipUnit is one access unit of a clip, in the clip's time (90 kHz).
type clipUnit struct {
	track    int
	pts, dts int64 // track clock
	payload  [][]byte
}

// clip is a demuxed test clip.
type clip struct {
	spec     clipSpec
	formats  []format.Format
	units    []clipUnit
	duration time.Duration
}

var (
	clipMu    sync.Mutex
	clipCache = map[string]*clip{}
)

// makeClip encodes (once per machine, kept in the temp dir) and demuxes a
// clip. MPEG-TS keeps PTS and DTS, which a B-frame stream needs.
func makeClip(t testing.TB, s clipSpec) *clip {
	t.Helper()
	testpeer.Require(t, "ffmpeg")
	clipMu.Lock()
	defer clipMu.Unlock()
	if c := clipCache[s.Name]; c != nil {
		return c
	}
	dir := filepath.Join(os.TempDir(), "skyrelay-webrtc-clips")
	_ = os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, s.Name+".ts")
	if _, err := os.Stat(path); err != nil {
		args := []string{"-v", "error", "-y", "-f", "lavfi", "-i",
			"testsrc2=size=" + strconv.Itoa(s.Width) + "x" + strconv.Itoa(s.Height) + ":rate=" + strconv.Itoa(s.FPS)}
		if s.Audio != "" {
			args = append(args, "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000")
		}
		args = append(args, "-t", strconv.Itoa(s.Seconds), "-pix_fmt", "yuv420p")
		bf := "0"
		if s.BFrames {
			bf = "2"
		}
		g := strconv.Itoa(s.GOP)
		if s.Codec == "h265" {
			args = append(args, "-c:v", "libx265", "-preset", "ultrafast",
				"-x265-params", "log-level=error:bframes="+bf+":keyint="+g+":min-keyint="+g+":scenecut=0")
		} else {
			args = append(args, "-c:v", "libx264", "-profile:v", "main", "-preset", "veryfast", "-bf", bf,
				"-g", g, "-keyint_min", g, "-sc_threshold", "0", "-x264-params", "sliced-threads=0", "-b:v", "1500k")
		}
		switch s.Audio {
		case "opus":
			args = append(args, "-c:a", "libopus", "-b:a", "64k", "-ac", "2")
		case "aac":
			args = append(args, "-c:a", "aac", "-b:a", "64k", "-ac", "2")
		}
		tmp := path + ".tmp"
		args = append(args, "-f", "mpegts", tmp)
		if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v: %s", err, out)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := demuxClip(raw)
	if err != nil {
		t.Fatalf("demuxing %s: %v", path, err)
	}
	c.spec = s
	clipCache[s.Name] = c
	return c
}

func demuxClip(raw []byte) (*clip, error) {
	r := &mpegts.Reader{R: bytes.NewReader(raw)}
	if err := r.Initialize(); err != nil {
		return nil, err
	}
	c := &clip{}
	var first *int64
	rebase := func(ts int64) int64 {
		if first == nil {
			first = &ts
		}
		return ts - *first
	}
	r.OnDecodeError(func(error) {})
	for _, tr := range r.Tracks() {
		idx := len(c.formats)
		switch codec := tr.Codec.(type) {
		case *codecs.H264:
			c.formats = append(c.formats, &format.H264{PayloadTyp: 96, PacketizationMode: 1})
			r.OnDataH264(tr, func(pts, dts int64, au [][]byte) error {
				c.units = append(c.units, clipUnit{track: idx, pts: rebase(pts), dts: rebase(dts), payload: au})
				return nil
			})
		case *codecs.H265:
			c.formats = append(c.formats, &format.H265{PayloadTyp: 96})
			r.OnDataH265(tr, func(pts, dts int64, au [][]byte) error {
				c.units = append(c.units, clipUnit{track: idx, pts: rebase(pts), dts: rebase(dts), payload: au})
				return nil
			})
		case *codecs.Opus:
			c.formats = append(c.formats, &format.Opus{PayloadTyp: 111, ChannelCount: 2})
			r.OnDataOpus(tr, func(pts int64, packets [][]byte) error {
				p := rebase(pts) * 48000 / 90000
				for _, pkt := range packets {
					c.units = append(c.units, clipUnit{track: idx, pts: p, dts: p, payload: [][]byte{pkt}})
					p += 960 // 20 ms frames (libopus default)
				}
				return nil
			})
		case *codecs.MPEG4Audio:
			cfg := codec.Config
			c.formats = append(c.formats, &format.MPEG4Audio{PayloadTyp: 97, Config: &cfg, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3})
			r.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) error {
				p := rebase(pts) * int64(cfg.SampleRate) / 90000
				c.units = append(c.units, clipUnit{track: idx, pts: p, dts: p, payload: aus})
				return nil
			})
		}
	}
	for {
		if err := r.Read(); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
	}
	// Video timestamps are 90 kHz; audio was converted to its own clock.
	for _, u := range c.units {
		d := time.Duration(u.dts) * time.Second / time.Duration(c.formats[u.track].ClockRate())
		if d > c.duration {
			c.duration = d
		}
	}
	c.duration += 40 * time.Millisecond
	return c, nil
}

// publisher writes a clip into a hub path in real time, in a loop, the way
// an ingest would. Stop and Start again make a publisher reconnect.
type publisher struct {
	hub  *gateway.Hub
	path string
	clip *clip

	loop publoop.Loop

	frameInGOP atomic.Int64 // video frames written since the last keyframe
	written    atomic.Int64
}

func startPublisher(t testing.TB, hub *gateway.Hub, path string, c *clip) *publisher {
	t.Helper()
	p := &publisher{hub: hub, path: path, clip: c}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// Start publishes from the clip's beginning (a keyframe) with timestamps
// from zero, as a reconnecting encoder does.
func (p *publisher) Start() error {
	var tracks []*gateway.Track
	for _, f := range p.clip.formats {
		tr, err := gateway.TrackFor(cloneFormat(f))
		if err != nil {
			return err
		}
		tracks = append(tracks, tr)
	}
	return p.loop.Start(p.hub, p.path, tracks, p.run)
}

// cloneFormat gives every publisher its own format values: the core keeps
// parameter sets in them.
func cloneFormat(f format.Format) format.Format {
	switch f := f.(type) {
	case *format.H264:
		return &format.H264{PayloadTyp: f.PayloadTyp, PacketizationMode: f.PacketizationMode}
	case *format.H265:
		return &format.H265{PayloadTyp: f.PayloadTyp}
	case *format.Opus:
		c := *f
		return &c
	case *format.MPEG4Audio:
		c := *f
		return &c
	}
	return f
}

func (p *publisher) run(pub *gateway.Publisher, stop <-chan struct{}) {
	start := time.Now()
	units := p.clip.units
	for loop := int64(0); ; loop++ {
		base := time.Duration(loop) * p.clip.duration
		for _, u := range units {
			clock := int64(p.clip.formats[u.track].ClockRate())
			at := start.Add(base + time.Duration(u.dts)*time.Second/time.Duration(clock))
			if d := time.Until(at); d > 0 {
				select {
				case <-stop:
					return
				case <-time.After(d):
				}
			}
			select {
			case <-stop:
				return
			default:
			}
			off := int64(base) * clock / int64(time.Second)
			n := 0
			for _, b := range u.payload {
				n += len(b)
			}
			pub.AddBytes(n)
			if p.clip.spec.BFrames && p.clip.formats[u.track].ClockRate() == 90000 {
				pub.WriteUnitDTS(u.track, u.pts+off, u.dts+off, u.payload)
			} else {
				pub.WriteUnit(u.track, u.pts+off, u.payload)
			}
			if u.track == 0 {
				if isKey(u.payload, p.clip.spec.Codec) {
					p.frameInGOP.Store(0)
				} else {
					p.frameInGOP.Add(1)
				}
				p.written.Add(1)
			}
		}
	}
}

func isKey(au [][]byte, codec string) bool {
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		if codec == "h265" {
			if t := (n[0] >> 1) & 0x3f; t >= 16 && t <= 21 {
				return true
			}
		} else if n[0]&0x1f == 5 {
			return true
		}
	}
	return false
}

// Stop disconnects the publisher; the stream waits the hub's grace period.
func (p *publisher) Stop() { p.loop.Stop() }

// waitGOPPosition waits until the publisher is at least n frames into a
// GOP, so that a viewer joining now has a backlog to catch up on.
func (p *publisher) waitGOPPosition(t testing.TB, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.frameInGOP.Load() < n || p.frameInGOP.Load() > n+5 {
		if time.Now().After(deadline) {
			t.Fatalf("publisher never reached frame %d of a GOP", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
