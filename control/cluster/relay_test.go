package cluster

import (
	"context"
	"testing"
	"time"
)

type fakePuller struct {
	pulled  chan string
	stopped chan string
}

func (f *fakePuller) Pull(path, rawURL string) (func(), error) {
	f.pulled <- rawURL
	return func() { f.stopped <- path }, nil
}

func TestRelays(t *testing.T) {
	const path = "SN/1-0-0/normal-0"
	n := &Node{ID: "a", members: map[string]Entry{
		"b": {NodeID: "b", HTTP: "http://10.0.0.2:8080", RTSP: "rtsp://10.0.0.2:8554", Pushes: []Push{{Path: path}}},
	}}
	f := &fakePuller{pulled: make(chan string, 4), stopped: make(chan string, 4)}
	started := make(chan string, 1)
	rl := &Relays{Node: n, Puller: f, Idle: time.Millisecond,
		Start:     func(_ context.Context, p string) error { started <- p; return nil },
		WaitReady: func(context.Context, string) error { return nil }}
	ctx := context.Background()

	// A path another node holds is relayed, once however many readers.
	for range 2 {
		if err := rl.OnDemand(ctx, path); err != nil {
			t.Fatal(err)
		}
	}
	if u := <-f.pulled; u != "rtsp://10.0.0.2:8554/"+path {
		t.Fatalf("pulled %q", u)
	}
	if len(f.pulled) != 0 {
		t.Fatal("a second relay of one path")
	}
	// A path nobody holds is started here.
	if err := rl.OnDemand(ctx, "OTHER"); err != nil || <-started != "OTHER" {
		t.Fatalf("start here: %v", err)
	}
	// Readers come and go: the relay stops once none is left for Idle.
	rl.StreamEvent(path, "readers", 1)
	rl.StreamEvent(path, "readers", 0)
	if p := <-f.stopped; p != path {
		t.Fatalf("stopped %q", p)
	}
	// Relayed again, then the holder drops the path: pruned.
	if err := rl.OnDemand(ctx, path); err != nil {
		t.Fatal(err)
	}
	<-f.pulled
	n.members["b"] = Entry{NodeID: "b", HTTP: "http://10.0.0.2:8080", RTSP: "rtsp://10.0.0.2:8554"}
	rl.Prune()
	if p := <-f.stopped; p != path {
		t.Fatalf("pruned %q", p)
	}
	rl.Close()
}
