package sim

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

// The publisher also suits gortmplib's own server (what a Go media server is
// likely to run): the stream path keeps the video_id and the secret query,
// the track is H.264 with the clip's parameters, and frames with the DJI
// quirks arrive.
func TestPushToGortmplibServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type got struct {
		url    string
		track  *format.H264
		frames int
		err    error
	}
	res := make(chan got, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			res <- got{err: err}
			return
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		sc := &gortmplib.ServerConn{RW: nc}
		if err = sc.Initialize(); err == nil {
			err = sc.Accept()
		}
		if err != nil {
			res <- got{err: err}
			return
		}
		r := &gortmplib.Reader{Conn: sc}
		if err := r.Initialize(); err != nil {
			res <- got{err: err}
			return
		}
		g := got{url: sc.URL.String()}
		g.track, _ = r.Tracks()[0].(*format.H264)
		r.OnDataH264(g.track, func(_, _ time.Duration, au [][]byte) { g.frames++ })
		for g.frames < 10 {
			if err := r.Read(); err != nil {
				g.err = err
				break
			}
		}
		res <- g
	}()

	c, _ := loadClip(clipH264, ClipFPS)
	p := &rtmpPusher{}
	push := "rtmp://" + ln.Addr().String() + "/" + DefaultDockAircraftSN + "/99-0-0/normal-0?secret=abc"
	err = p.start(context.Background(), pushRequest{url: push, clip: c, quirks: true, log: slog.Default(),
		gap: make(chan time.Duration), onHealth: func(int) {}, onResumed: func() {}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	g := <-res
	if g.err != nil {
		t.Fatal(g.err)
	}
	u, _ := url.Parse(g.url)
	if u.Path != "/"+DefaultDockAircraftSN+"/99-0-0/normal-0" || u.Query().Get("secret") != "abc" {
		t.Fatalf("server saw %s", g.url)
	}
	if g.track == nil || string(g.track.SPS) != string(c.sps) || g.frames < 10 {
		t.Fatalf("track %+v, %d frames", g.track, g.frames)
	}
}
