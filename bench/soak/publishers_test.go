package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/h264clip"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// simClip is docksim's clip (640x360 25 fps H.264, ~0.5 Mbit/s): what the
// in-process publishers loop.
func simClip(t testing.TB) *h264clip.Clip {
	b, err := os.ReadFile(filepath.Join(testpeer.Root(), "sim", "clip", "clip.h264"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := h264clip.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	clipFPS      = 25 // sim/clip/README.md
	writeTimeout = 5 * time.Second
)

// goRTMP is an in-process RTMP publisher (gortmplib's client, as a DJI
// dock's encoder would push): fifty ffmpeg processes would take the two
// cores the gateway is measured on.
func goRTMP(clip *h264clip.Clip, rawURL string) func(*rand.Rand) (session, error) {
	u, _ := url.Parse(rawURL)
	track := &format.H264{PayloadTyp: 96, SPS: clip.SPS, PPS: clip.PPS, PacketizationMode: 1}
	return func(*rand.Rand) (session, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := &gortmplib.Client{URL: u, Publish: true}
		if err := c.Initialize(ctx); err != nil {
			return nil, err
		}
		w := &gortmplib.Writer{Conn: c, Tracks: []format.Format{track}}
		if err := w.Initialize(); err != nil {
			c.Close()
			return nil, err
		}
		s := &goSession{c: c, done: make(chan struct{}), gone: make(chan struct{})}
		go s.stream(w, track, clip)
		return s, nil
	}
}

type goSession struct {
	c    *gortmplib.Client
	done chan struct{} // closed by close
	gone chan struct{} // closed when stream returns
	err  error
}

// stream paces the clip's access units in real time, looped, from its
// first keyframe, as an encoder that just started.
func (s *goSession) stream(w *gortmplib.Writer, track *format.H264, clip *h264clip.Clip) {
	defer close(s.gone)
	frame := time.Second / clipFPS
	tick := time.NewTicker(frame)
	defer tick.Stop()
	for n := 0; ; n++ {
		pts := time.Duration(n) * frame
		_ = s.c.NetConn().SetWriteDeadline(time.Now().Add(writeTimeout))
		if s.err = w.WriteH264(track, pts, pts, clip.AUs[n%len(clip.AUs)]); s.err != nil {
			return
		}
		select {
		case <-s.done:
			return
		case <-tick.C:
		}
	}
}

func (s *goSession) ended() <-chan struct{} { return s.gone }

func (s *goSession) close() {
	close(s.done)
	s.c.Close()
	<-s.gone
}

// ffmpegPush is a real ffmpeg publisher of a cached test clip, looped,
// over RTMP (rtmp://) or RTSP (rtsp://, interleaved TCP).
func ffmpegPush(clip, target string) func(*rand.Rand) (session, error) {
	return func(*rand.Rand) (session, error) {
		args := []string{"-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", clip, "-c", "copy"}
		if u, _ := url.Parse(target); u.Scheme == "rtsp" {
			args = append(args, "-f", "rtsp", "-rtsp_transport", "tcp", target)
		} else {
			args = append(args, "-f", "flv", target)
		}
		cmd := exec.Command("ffmpeg", args...)
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		s := &procSession{cmd: cmd, gone: make(chan struct{})}
		go func() { _ = cmd.Wait(); close(s.gone) }()
		return s, nil
	}
}

// procSession is a peer that is a process: it ends when the process exits.
type procSession struct {
	cmd  *exec.Cmd
	gone chan struct{}
}

func (s *procSession) ended() <-chan struct{} { return s.gone }

func (s *procSession) close() {
	_ = s.cmd.Process.Signal(os.Interrupt) // ffmpeg closes its session, as a user stopping it
	select {
	case <-s.gone:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.gone
	}
}

// publishers makes the peers that publish path i of n: the first
// ffmpegRTMP with ffmpeg over RTMP, the next ffmpegRTSP with ffmpeg over
// RTSP, the rest in-process. Publishers stay away for less than the
// gateway's reconnect grace (10 s) most of the time, so readers should
// stay attached, and sometimes for longer, so readers are let go.
func publishers(t testing.TB, g *gwproc.Process, pl plan) ([]*peer, []string) {
	clip := simClip(t)
	small := testpeer.Clip(t, testpeer.ClipH264Small)
	var ps []*peer
	var paths []string
	for i := range pl.streams {
		path := fmt.Sprintf("soak/s%02d", i)
		p := &peer{holdFor: span{20 * time.Second, 90 * time.Second}, gap: span{200 * time.Millisecond, 3 * time.Second}}
		switch {
		case i < pl.ffmpegRTMP:
			p.name, p.connect = path+" ffmpeg rtmp", ffmpegPush(small, g.RTMPURL(path))
			p.holdFor = span{40 * time.Second, 120 * time.Second}
		case i < pl.ffmpegRTMP+pl.ffmpegRTSP:
			p.name, p.connect = path+" ffmpeg rtsp", ffmpegPush(small, g.RTSPURL(path))
			p.holdFor = span{40 * time.Second, 120 * time.Second}
		default:
			p.name, p.connect = path+" rtmp", goRTMP(clip, g.RTMPURL(path))
			if i%5 == 0 {
				p.gap = span{11 * time.Second, 14 * time.Second} // beyond the grace
			}
		}
		ps = append(ps, p)
		paths = append(paths, path)
	}
	return ps, paths
}
