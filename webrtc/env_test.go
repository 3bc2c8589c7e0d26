package webrtc_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/internal/testpeer"
	"github.com/skyrelay/skyrelay/webrtc"
	"github.com/skyrelay/skyrelay/webrtc/whepclient"
)

// env is a Skyrelay core with the WebRTC server and the HTTP server on loopback.
type env struct {
	hub  *gateway.Hub
	srv  *webrtc.Server
	http *gateway.HTTPServer
	base string
	logs *testpeer.LogBuffer
}

func newEnv(t testing.TB, tune ...func(*webrtc.Server)) *env {
	t.Helper()
	e := &env{logs: &testpeer.LogBuffer{}}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e.hub = gateway.NewHub(10*time.Second, log)
	t.Cleanup(e.hub.Close)
	e.srv = &webrtc.Server{Listen: "127.0.0.1:0", Hub: e.hub, Log: log, HandshakeTimeout: 5 * time.Second, StartTimeout: 2 * time.Second}
	for _, f := range tune {
		f(e.srv)
	}
	if err := e.srv.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.srv.Close)
	e.http = &gateway.HTTPServer{Address: "127.0.0.1:0", Log: log, WHEP: e.srv.WHEP()}
	if err := e.http.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.http.Close)
	e.base = "http://" + e.http.Addr().String()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", e.logs.String())
		}
	})
	return e
}

func (e *env) whep(path string) string { return e.base + "/" + path + "/whep" }

// readers counts the stream's readers of a protocol.
func (e *env) readers(path, protocol string) int {
	s := e.hub.Stream(path)
	if s == nil {
		return 0
	}
	n := 0
	for _, r := range s.Readers() {
		if r.Protocol == protocol {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds or d passes (testpeer.Eventually).
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	testpeer.Eventually(t, d, what, cond)
}

// publishedEnv is an env with a clip made from spec published on path,
// ready for viewers.
func publishedEnv(t testing.TB, path string, spec clipSpec) (*env, *publisher) {
	t.Helper()
	e := newEnv(t)
	pub := startPublisher(t, e.hub, path, makeClip(t, spec))
	waitReady(t, e, path)
	return e, pub
}

func waitReady(t testing.TB, e *env, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.hub.WaitReady(ctx, path); err != nil {
		t.Fatalf("stream %s not ready: %v", path, err)
	}
}

// post sends a raw WHEP request.
func post(t testing.TB, url, contentType, body string) (*http.Response, string) {
	t.Helper()
	res, err := http.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	return res, string(b)
}

func startClient(t testing.TB, c *whepclient.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("WHEP client: %v", err)
	}
	t.Cleanup(c.Close)
}
