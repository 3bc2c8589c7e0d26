package testpeer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ProbeStream is one stream as ffprobe read it.
type ProbeStream struct {
	Index     int    // stream index
	CodecType string // "video", "audio", "data"
	Codec     string // ffprobe's codec_name: "h264", "hevc", "aac", "opus", "pcm_alaw"
	Width     int    // video only
	Height    int    // video only
	Packets   int    // packets read within the read interval (nb_read_packets)
}

// ProbeResult is what FFprobe found.
type ProbeResult struct {
	Streams []ProbeStream
	JSON    []byte // ffprobe's output as is
}

// Video returns the first video stream.
func (r ProbeResult) Video() (ProbeStream, bool) { return r.first("video") }

// Audio returns the first audio stream.
func (r ProbeResult) Audio() (ProbeStream, bool) { return r.first("audio") }

func (r ProbeResult) first(kind string) (ProbeStream, bool) {
	for _, s := range r.Streams {
		if s.CodecType == kind {
			return s, true
		}
	}
	return ProbeStream{}, false
}

// DefaultReadInterval is the -read_intervals ProbeURL uses unless extraArgs
// carry their own: the first 5 seconds.
const DefaultReadInterval = "%+5"

// ProbeURL runs ffprobe on url (a file, rtsp://, rtmp://, http://.../index.m3u8)
// the way docs/testing.md describes:
//
//	ffprobe -v error [extraArgs] -count_packets
//	  -show_entries stream=index,codec_type,codec_name,width,height,nb_read_packets
//	  -of json -read_intervals %+5 URL
//
// extraArgs go before the URL: input options such as "-rtsp_transport",
// "tcp", or "-select_streams", "v", or "-read_intervals", "%+10" to replace
// the default. It returns an error (with ffprobe's stderr) when ffprobe
// fails or ctx ends; ctx bounds the whole run.
func ProbeURL(ctx context.Context, url string, extraArgs ...string) (ProbeResult, error) {
	args := []string{"-v", "error"}
	args = append(args, extraArgs...)
	args = append(args, "-count_packets",
		"-show_entries", "stream=index,codec_type,codec_name,width,height,nb_read_packets",
		"-of", "json")
	if !slices.Contains(extraArgs, "-read_intervals") {
		args = append(args, "-read_intervals", DefaultReadInterval)
	}
	args = append(args, url)
	cmd := exec.CommandContext(ctx, "ffprobe", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return ProbeResult{}, fmt.Errorf("testpeer: ffprobe %s: %v: %s", url, err, strings.TrimSpace(stderr.String()))
	}
	var raw struct {
		Streams []struct {
			Index         int    `json:"index"`
			CodecType     string `json:"codec_type"`
			CodecName     string `json:"codec_name"`
			Width         int    `json:"width"`
			Height        int    `json:"height"`
			NbReadPackets string `json:"nb_read_packets"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &raw); err != nil {
		return ProbeResult{}, fmt.Errorf("testpeer: ffprobe %s: bad JSON: %v: %s", url, err, stdout.String())
	}
	res := ProbeResult{JSON: stdout.Bytes()}
	for _, s := range raw.Streams {
		n, _ := strconv.Atoi(s.NbReadPackets)
		res.Streams = append(res.Streams, ProbeStream{
			Index: s.Index, CodecType: s.CodecType, Codec: s.CodecName,
			Width: s.Width, Height: s.Height, Packets: n,
		})
	}
	return res, nil
}

// FFprobe is ProbeURL that fails the test on error (call it from the test's
// goroutine).
func FFprobe(t testing.TB, ctx context.Context, url string, extraArgs ...string) ProbeResult {
	t.Helper()
	Require(t, "ffprobe")
	res, err := ProbeURL(ctx, url, extraArgs...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
