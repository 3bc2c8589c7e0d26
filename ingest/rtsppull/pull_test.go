package rtsppull_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/ingest/rtsppull"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// env is a hub and a puller, with the hub's events recorded.
type env struct {
	hub    *gateway.Hub
	puller *rtsppull.Puller
	logs   *testpeer.LogBuffer
	events chan gateway.Event
}

func newEnv(t testing.TB, transport string) *env {
	t.Helper()
	e := &env{logs: &testpeer.LogBuffer{}, events: make(chan gateway.Event, 256)}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.hub = gateway.NewHub(10*time.Second, log)
	e.hub.OnEvent = func(ev gateway.Event) {
		select {
		case e.events <- ev:
		default:
		}
	}
	t.Cleanup(e.hub.Close)
	e.puller = &rtsppull.Puller{Hub: e.hub, Log: log, Transport: transport}
	if err := e.puller.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.puller.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", e.logs.String())
		}
	})
	return e
}

// waitEvent waits for an event of kind on path.
func (e *env) waitEvent(t testing.TB, kind gateway.EventKind, path string, d time.Duration) time.Time {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev := <-e.events:
			if ev.Kind == kind && ev.Path == path {
				return time.Now()
			}
		case <-timer.C:
			t.Fatalf("no %s event for %s within %s", kind, path, d)
		}
	}
}

// counter is a reader that counts video frames.
type counter struct {
	r      *gateway.Reader
	frames atomic.Int64
}

func attachCounter(t testing.TB, e *env, path string) *counter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := e.hub.WaitReady(ctx, path); err != nil {
		t.Fatalf("%s never became playable: %v", path, err)
	}
	st, err := e.hub.Read(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{}
	c.r = &gateway.Reader{Protocol: "test", Handle: func(f gateway.Frame) error {
		if f.Track.Codec.IsVideo() {
			c.frames.Add(1)
		}
		return nil
	}}
	if err := st.AddReader(c.r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.r.Close)
	return c
}

func (c *counter) waitFrames(t testing.TB, n int64, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for c.frames.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d frames within %s", c.frames.Load(), n, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Pulling from GStreamer's RTSP server, with credentials, over TCP and
// UDP: the stream appears on the path with the server's H.264 track.
func TestPullFromGStreamer(t *testing.T) {
	for _, transport := range []string{"tcp", "udp"} {
		t.Run(transport, func(t *testing.T) {
			e := newEnv(t, transport)
			port := testpeer.FreePort(t)
			startGst(t, port, "dji", "s3cret")
			stop, err := e.puller.Pull("rc/cam", fmt.Sprintf("rtsp://dji:s3cret@127.0.0.1:%d/live/1", port))
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			c := attachCounter(t, e, "rc/cam")
			c.waitFrames(t, 25, 5*time.Second)
			st := e.hub.Stream("rc/cam")
			src, _ := st.Source()
			if src.Protocol != "rtsp_pull" || len(st.Tracks()) != 1 || st.Tracks()[0].Codec != gateway.CodecH264 {
				t.Fatalf("source %+v, tracks %d", src, len(st.Tracks()))
			}
			if strings.Contains(e.logs.String(), "s3cret") {
				t.Fatal("the RTSP password reached the log")
			}
			stop()
			if e.puller.Pulls() != 0 {
				t.Fatal("pull still running after stop")
			}
			if _, ok := e.hub.Stream("rc/cam").Source(); ok {
				t.Fatal("the path still has a publisher after stop")
			}
		})
	}
}

// The controller's server goes away and comes back on the same port: the
// pull reconnects by itself within 2 s of its return and the reader that
// was attached keeps getting frames, through the hub's grace period.
func TestPullSurvivesServerRestart(t *testing.T) {
	e := newEnv(t, "tcp")
	port := testpeer.FreePort(t)
	gst := startGst(t, port, "dji", "pw")
	stop, err := e.puller.Pull("rc/cam", fmt.Sprintf("rtsp://dji:pw@127.0.0.1:%d/live/1", port))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c := attachCounter(t, e, "rc/cam")
	c.waitFrames(t, 25, 5*time.Second)

	_ = gst.Kill() // its error is the exit status
	e.waitEvent(t, gateway.EventLost, "rc/cam", 15*time.Second)
	// Let a few retries fail against the closed port.
	before := c.frames.Load()
	waitRetries(t, e, 2)

	startGst(t, port, "dji", "pw")
	back := time.Now()
	e.waitEvent(t, gateway.EventBack, "rc/cam", 5*time.Second)
	took := time.Since(back)
	t.Logf("pull back %s after the server returned", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Fatalf("reconnect took %s, want at most 2 s", took)
	}
	c.waitFrames(t, before+25, 5*time.Second)
	select {
	case <-c.r.Done():
		t.Fatal("the reader ended across the restart")
	default:
	}
	if rs := e.hub.Stream("rc/cam").Readers(); len(rs) != 1 || rs[0] != c.r {
		t.Fatal("the reader changed across the restart")
	}
}

// waitRetries waits until the puller has logged n failed attempts.
func waitRetries(t testing.TB, e *env, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(e.logs.String(), "RTSP pull interrupted")+strings.Count(e.logs.String(), "RTSP pull attempt failed") < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d failed attempts logged", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A wrong password is refused by the server: no stream appears, the pull
// keeps trying (the controller may fix it), and the password never reaches
// the log.
func TestPullWrongPassword(t *testing.T) {
	e := newEnv(t, "tcp")
	port := testpeer.FreePort(t)
	startGst(t, port, "dji", "right")
	stop, err := e.puller.Pull("rc/cam", fmt.Sprintf("rtsp://dji:wrong-pw@127.0.0.1:%d/live/1", port))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	waitRetries(t, e, 1)
	if e.hub.Stream("rc/cam") != nil {
		t.Fatal("a stream appeared with a wrong password")
	}
	logs := e.logs.String()
	if strings.Contains(logs, "wrong-pw") {
		t.Fatal("the password reached the log")
	}
	if !strings.Contains(logs, "401") {
		t.Fatalf("the log does not say the server refused: %s", logs)
	}
}

func TestPullBadArguments(t *testing.T) {
	e := newEnv(t, "tcp")
	for _, tc := range []struct{ path, url string }{
		{"bad path/", "rtsp://127.0.0.1:1/x"},
		{"rc/cam", "http://127.0.0.1/x"},
		{"rc/cam", "not a url"},
		{"rc/cam", "rtsp://"},
	} {
		if _, err := e.puller.Pull(tc.path, tc.url); err == nil {
			t.Errorf("Pull(%q, %q) accepted", tc.path, tc.url)
		}
	}
	p := &rtsppull.Puller{Hub: e.hub, Transport: "sctp"}
	if err := p.Initialize(); err == nil {
		t.Error("transport sctp accepted")
	}
	if got := rtsppull.Redact("rtsp://u:secret@h:1/p"); strings.Contains(got, "secret") {
		t.Errorf("Redact: %s", got)
	}
}
