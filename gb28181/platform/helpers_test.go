package platform

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// testLog writes the platform's log to the test log when -v is given.
func testLog(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// mediaRange finds n consecutive ports free for UDP and TCP on loopback
// now, away from the ephemeral range.
func mediaRange(t testing.TB, n int) string {
	t.Helper()
	for range 200 {
		lo := 20000 + rand.IntN(12000)
		ok := true
		for p := lo; p < lo+n && ok; p++ {
			addr := "127.0.0.1:" + strconv.Itoa(p)
			u, err := net.ListenPacket("udp", addr)
			if err != nil {
				ok = false
				break
			}
			l, err := net.Listen("tcp", addr)
			u.Close()
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return strconv.Itoa(lo) + "-" + strconv.Itoa(lo+n-1)
		}
	}
	t.Fatal("no free media port range")
	return ""
}

// newPlatform starts a platform on loopback with a hub of its own.
func newPlatform(t testing.TB, mod func(p *Platform)) (*Platform, *gateway.Hub) {
	t.Helper()
	hub := gateway.NewHub(time.Second, testLog(t))
	t.Cleanup(hub.Close)
	p := &Platform{SIPListen: "127.0.0.1:0", MediaPorts: mediaRange(t, 8), PublicHost: "127.0.0.1", Hub: hub, Log: testLog(t),
		KeepaliveInterval: 5 * time.Second, InviteTimeout: 5 * time.Second, MediaTimeout: 5 * time.Second}
	if mod != nil {
		mod(p)
	}
	if err := p.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, hub
}

// clip is the repository's H.264 test clip (sim/clip).
func clip(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testpeer.Root(), "sim", "clip", "clip.h264"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseMinted reads a url_type 3 url.
func parseMinted(t testing.TB, u string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(u)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// waitFor polls cond with a short backoff until it holds or ctx ends.
func waitFor(ctx context.Context, t testing.TB, what string, cond func() bool) {
	t.Helper()
	d := 5 * time.Millisecond
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(d):
		}
		d = min(d*2, 100*time.Millisecond)
	}
}

// countFrames attaches a reader to path and counts its video frames.
func countFrames(t testing.TB, ctx context.Context, hub *gateway.Hub, path string) *atomic.Int64 {
	t.Helper()
	s, err := hub.Read(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	r := &gateway.Reader{Protocol: "test", RemoteAddr: "test", Handle: func(f gateway.Frame) error {
		if f.Track.Codec.IsVideo() {
			n.Add(1)
		}
		return nil
	}}
	if err := s.AddReader(r); err != nil {
		t.Fatal(err)
	}
	return &n
}
