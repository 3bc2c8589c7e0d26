package hls

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/hls/hlstest"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

var (
	extinf   = regexp.MustCompile(`#EXTINF:([0-9.]+),`)
	mediaSeq = regexp.MustCompile(`#EXT-X-MEDIA-SEQUENCE:([0-9]+)`)
)

// TestClockRestartKeepsPlaylistGoing: a publisher of video and AAC whose
// timestamps start over every 2 s on the same connection (an encoder
// looping its source). ffprobe reads 6 s of the LL-HLS stream, which it
// only finishes when the stream's clock follows real time; the media
// playlist keeps adding segments, each of a sane duration.
func TestClockRestartKeepsPlaylistGoing(t *testing.T) {
	testpeer.Require(t, "ffprobe")
	e := newEnv(t, 0, time.Minute)
	clip := hlstest.H264Clip(t, 320, 240, 30, 4)
	aac := hlstest.AAC(t, 4)
	vt, _ := gateway.TrackFor(&format.H264{PayloadTyp: 96, PacketizationMode: 1})
	cfg := aac.Config
	at, _ := gateway.TrackFor(&format.MPEG4Audio{PayloadTyp: 97, Config: &cfg, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3})
	pub, err := e.hub.Publish("live/loop", gateway.SourceInfo{Protocol: "test"}, []*gateway.Track{vt, at})
	if err != nil {
		t.Fatal(err)
	}
	const pass = 60 // frames: 2 s, two GOPs
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		start := time.Now()
		audio := 0 // audio access units written in this pass
		for i := 0; ; i++ {
			f := i % pass
			if f == 0 {
				audio = 0
			}
			for int64(audio)*mpeg4audio.SamplesPerAccessUnit*30 <= int64(f)*int64(cfg.SampleRate) {
				pub.WriteUnit(1, int64(audio)*mpeg4audio.SamplesPerAccessUnit, [][]byte{aac.AUs[audio%len(aac.AUs)]})
				audio++
			}
			pub.WriteUnit(0, int64(f)*3000, clip.AUs[f])
			select {
			case <-stop:
				return
			case <-time.After(time.Until(start.Add(time.Duration(i+1) * time.Second / 30))):
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done; pub.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := e.hub.WaitReady(ctx, "live/loop"); err != nil {
		t.Fatal(err)
	}

	_, master := get(t, e.base+"/live/loop/index.m3u8")
	var media string
	for _, l := range strings.Split(string(master), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			media = strings.TrimSpace(l)
			break
		}
	}
	if media == "" {
		t.Fatalf("no media playlist in\n%s", master)
	}
	seq := func() (int, []float64) {
		_, pl := get(t, e.base+"/live/loop/"+media)
		m := mediaSeq.FindSubmatch(pl)
		if m == nil {
			t.Fatalf("no media sequence in\n%s", pl)
		}
		n, _ := strconv.Atoi(string(m[1]))
		var d []float64
		for _, x := range extinf.FindAllSubmatch(pl, -1) {
			v, _ := strconv.ParseFloat(string(x[1]), 64)
			d = append(d, v)
		}
		return n + len(d), d
	}
	before, _ := seq()

	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", "v", "-count_packets",
		"-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", "-read_intervals", "%+6", e.base+"/live/loop/index.m3u8").Output()
	if err != nil {
		t.Fatalf("ffprobe of 6 s of the stream: %v: %s", err, out)
	}
	// One line per stream and program the playlist lists: take the first.
	if f := strings.Fields(string(out)); len(f) == 0 {
		t.Fatal("ffprobe printed nothing")
	} else if n, _ := strconv.Atoi(f[0]); n < 120 {
		t.Fatalf("ffprobe read %s video packets in 6 s", out)
	}
	after, durations := seq()
	if after-before < 3 {
		t.Fatalf("the playlist went from segment %d to %d while ffprobe read 6 s", before, after)
	}
	for _, d := range durations {
		if d < 0.5 || d > 3 {
			t.Fatalf("segment durations %v: want about a GOP (1 s) each", durations)
		}
	}
	t.Logf("segments %d -> %d, durations %v, ffprobe read %s video packets", before, after, durations, strings.Fields(string(out))[0])
}
