package soak

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/webrtc/whepclient"
)

// viewer is a churning reader that counts the media it receives, so the
// end check can tell a live picture from a dead one.
type viewer struct {
	*peer
	media atomic.Int64 // video packets (WHEP, RTSP) or new playlist versions (LL-HLS)
	path  atomic.Value // the path it reads now
}

// pickPath chooses the stream a viewer reads next.
func (v *viewer) pickPath(r *rand.Rand, paths []string) string {
	p := paths[r.IntN(len(paths))]
	v.path.Store(p)
	return p
}

func viewers(g *gwproc.Process, pl plan, paths []string) []*viewer {
	var vs []*viewer
	add := func(kind string, n int, hold span, connect func(*viewer) func(*rand.Rand) (session, error)) {
		for i := range n {
			v := &viewer{peer: &peer{name: fmt.Sprintf("%s viewer %d", kind, i), holdFor: hold,
				gap: span{100 * time.Millisecond, 2 * time.Second}}}
			v.path.Store("")
			v.connect = connect(v)
			vs = append(vs, v)
		}
	}
	add("whep", pl.whep, span{5 * time.Second, 40 * time.Second}, func(v *viewer) func(*rand.Rand) (session, error) {
		return func(r *rand.Rand) (session, error) { return v.whep(g, r, paths) }
	})
	add("rtsp", pl.rtsp, span{5 * time.Second, 40 * time.Second}, func(v *viewer) func(*rand.Rand) (session, error) {
		return func(r *rand.Rand) (session, error) { return v.rtsp(g, r, paths) }
	})
	add("ll-hls", pl.hls, span{10 * time.Second, 40 * time.Second}, func(v *viewer) func(*rand.Rand) (session, error) {
		return func(r *rand.Rand) (session, error) { return v.hls(g, r, paths) }
	})
	return vs
}

// whep plays a stream with the in-tree WHEP client (pion, no decoding).
func (v *viewer) whep(g *gwproc.Process, r *rand.Rand, paths []string) (session, error) {
	c := &whepclient.Client{URL: g.URL("/" + v.pickPath(r, paths) + "/whep"), NoAudio: true,
		OnPacket: func(kind string, _ *rtp.Packet) {
			if kind == "video" {
				v.media.Add(1)
			}
		}}
	ctx, cancel := context.WithTimeout(context.Background(), whepclient.StartTimeout)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return whepSession{c}, nil
}

type whepSession struct{ c *whepclient.Client }

func (s whepSession) ended() <-chan struct{} { return s.c.Failed() }
func (s whepSession) close()                 { s.c.Close() }

// rtsp plays a stream with gortsplib's client, over TCP or UDP in turn.
func (v *viewer) rtsp(g *gwproc.Process, r *rand.Rand, paths []string) (session, error) {
	u, err := base.ParseURL(g.RTSPURL(v.pickPath(r, paths)))
	if err != nil {
		return nil, err
	}
	proto := gortsplib.ProtocolTCP
	if r.IntN(2) == 0 {
		proto = gortsplib.ProtocolUDP
	}
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &proto,
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	if err := c.Start(); err != nil {
		return nil, err
	}
	fail := func(err error) (session, error) { c.Close(); return nil, err }
	desc, _, err := c.Describe(u)
	if err != nil {
		return fail(err)
	}
	var h264 *format.H264
	medi := desc.FindFormat(&h264)
	if medi == nil {
		return fail(fmt.Errorf("no H.264 in %s", u))
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return fail(err)
	}
	c.OnPacketRTP(medi, h264, func(*rtp.Packet) { v.media.Add(1) })
	if _, err := c.Play(nil); err != nil {
		return fail(err)
	}
	s := &rtspSession{c: c, gone: make(chan struct{})}
	go func() { _ = c.Wait(); close(s.gone) }()
	return s, nil
}

type rtspSession struct {
	c    *gortsplib.Client
	gone chan struct{}
}

func (s *rtspSession) ended() <-chan struct{} { return s.gone }
func (s *rtspSession) close()                 { s.c.Close(); <-s.gone }

// hls plays a stream as a simple LL-HLS player would: reload the playlist
// every half second and fetch the newest segment whenever it changes. The
// session ends when the playlist cannot be read.
func (v *viewer) hls(g *gwproc.Process, r *rand.Rand, paths []string) (session, error) {
	pl := g.URL("/" + v.pickPath(r, paths) + "/index.m3u8")
	cl := &http.Client{Timeout: 10 * time.Second}
	body, err := fetch(cl, pl)
	if err != nil {
		return nil, err
	}
	s := &hlsSession{done: make(chan struct{}), gone: make(chan struct{})}
	go func() {
		defer close(s.gone)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		last := body
		for {
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
			b, err := fetch(cl, pl)
			if err != nil {
				return
			}
			if bytes.Equal(b, last) {
				continue
			}
			last = b
			v.media.Add(1)
			if seg := newestSegment(b); seg != "" {
				base, _ := url.Parse(pl)
				ref, err := url.Parse(seg)
				if err == nil {
					if _, err := fetch(cl, base.ResolveReference(ref).String()); err != nil {
						return
					}
				}
			}
		}
	}()
	return s, nil
}

type hlsSession struct {
	done, gone chan struct{}
	once       sync.Once
}

func (s *hlsSession) ended() <-chan struct{} { return s.gone }
func (s *hlsSession) close()                 { s.once.Do(func() { close(s.done) }); <-s.gone }

func fetch(cl *http.Client, u string) ([]byte, error) {
	resp, err := cl.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return b, err
}

// newestSegment is the last media segment a playlist names.
func newestSegment(pl []byte) string {
	lines := strings.Split(strings.TrimSpace(string(pl)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}
