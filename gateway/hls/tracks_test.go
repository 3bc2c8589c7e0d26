package hls

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/hls/hlstest"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

func mustTrack(t *testing.T, f format.Format, index int) *gateway.Track {
	t.Helper()
	tr, err := gateway.TrackFor(f)
	if err != nil {
		t.Fatal(err)
	}
	tr.Index = index
	return tr
}

func TestTracksLeaveOutWhatLLHLSCannotCarry(t *testing.T) {
	aac := &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 44100, ChannelConfig: 2}
	in := []*gateway.Track{
		mustTrack(t, &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}, 0),
		mustTrack(t, &format.H265{PayloadTyp: 96}, 1),
		mustTrack(t, &format.H264{PayloadTyp: 97}, 2),
		mustTrack(t, &format.MPEG4Audio{PayloadTyp: 98, Config: aac}, 3),
		mustTrack(t, &format.MPEG4Audio{PayloadTyp: 99}, 4),
		mustTrack(t, &format.Opus{PayloadTyp: 100, ChannelCount: 2}, 5),
	}
	got, skipped, err := hlsTracks(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[in[1]] == nil || got[in[3]] == nil || got[in[5]] == nil {
		t.Fatalf("kept %d tracks, want the H.265, the AAC with a config and the Opus", len(got))
	}
	if len(skipped) != 3 || !strings.Contains(skipped[0], "g711") || !strings.Contains(skipped[1], "second video") ||
		!strings.Contains(skipped[2], "AudioSpecificConfig") {
		t.Fatalf("skipped %q", skipped)
	}
	if got[in[3]].hls.ClockRate != 44100 || got[in[5]].hls.ClockRate != 48000 || got[in[1]].hls.ClockRate != 90000 {
		t.Fatal("muxer tracks must keep the formats' clock rates, so PTS pass through")
	}
	order := ordered(in, got)
	if _, ok := order[0].Codec.(*codecs.H265); !ok || len(order) != 3 {
		t.Fatalf("the video track must lead: %T first of %d", order[0].Codec, len(order))
	}

	if _, _, err := hlsTracks(in[:1]); !errors.Is(err, errNoTrack) {
		t.Fatalf("G.711 only: err = %v, want errNoTrack", err)
	}
}

func TestParamsChangedComparesKeyframeParams(t *testing.T) {
	c := &codecs.H264{}
	tr := &track{params: func() [][]byte { return [][]byte{c.SPS, c.PPS} }}
	sps, pps, idr := []byte{0x67, 1, 2}, []byte{0x68, 3}, []byte{0x65, 9}
	key := &gateway.Unit{Key: true, Payload: [][]byte{sps, pps, idr}}
	if paramsChanged(tr, key) {
		t.Fatal("no parameter sets yet: the init segment takes the keyframe's")
	}
	c.SPS, c.PPS = sps, pps
	if paramsChanged(tr, key) || paramsChanged(tr, &gateway.Unit{Payload: [][]byte{{0x41}}}) {
		t.Fatal("same parameter sets reported as changed")
	}
	if !paramsChanged(tr, &gateway.Unit{Key: true, Payload: [][]byte{{0x67, 1, 3}, pps, idr}}) {
		t.Fatal("a new SPS not reported")
	}
}

// Audio goes into its own rendition; ffprobe reads video and AAC.
func TestFFprobeReadsAACRendition(t *testing.T) {
	testpeer.Require(t, "ffprobe")
	e := newEnv(t, 0, time.Minute)
	hlstest.PublishAV(t, e.hub, "live/av", hlstest.H264Clip(t, 320, 240, 30, 4), hlstest.AAC(t, 4))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-count_packets",
		"-show_entries", "stream=codec_type,codec_name,sample_rate,nb_read_packets", "-of", "json",
		"-read_intervals", "%+3", e.base+"/live/av/index.m3u8").Output()
	if err != nil {
		t.Fatalf("ffprobe: %v: %s", err, out)
	}
	var probe struct {
		Streams []struct {
			CodecType     string `json:"codec_type"`
			CodecName     string `json:"codec_name"`
			SampleRate    string `json:"sample_rate"`
			NbReadPackets string `json:"nb_read_packets"`
		}
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range probe.Streams {
		if s.NbReadPackets != "" && s.NbReadPackets != "0" {
			seen[s.CodecType+"/"+s.CodecName+"/"+s.SampleRate] = true
		}
	}
	if !seen["video/h264/"] || !seen["audio/aac/48000"] {
		t.Fatalf("ffprobe read %s, want h264 video and 48 kHz AAC with packets", out)
	}
}
