package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/sim"
)

// The docksim set-up the end-to-end tests share: a simulated dock run for
// the length of a test, on the gateway's embedded broker or another one,
// and the waits on what the gateway's API says of it.

// runDock runs docksim with o (o.Broker set) until the test ends.
func runDock(t *testing.T, o sim.Options) sim.Dock {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := sim.Dock{Options: o}
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

// startDockWith runs docksim with o on g's embedded broker (unless o names
// another) and waits until g lists the dock online with its cameras.
func startDockWith(t *testing.T, g *gwproc.Process, o sim.Options) sim.Dock {
	t.Helper()
	if o.Broker == "" {
		o.Broker = embeddedBroker(g)
	}
	d := runDock(t, o)
	dockOnline(t, g)
	return d
}

// embeddedBroker is the URL of g's embedded MQTT broker.
func embeddedBroker(g *gwproc.Process) string { return fmt.Sprintf("tcp://127.0.0.1:%d", g.MQTT) }

// liveState is the state of video's live session in GET /api/v1/live, ""
// when it has none.
func liveState(t *testing.T, g *gwproc.Process, video string) string {
	t.Helper()
	var l struct {
		Items []struct {
			VideoID string `json:"video_id"`
			State   string `json:"state"`
		} `json:"items"`
	}
	call(t, g, "GET", "/api/v1/live", "", &l)
	for _, it := range l.Items {
		if it.VideoID == video {
			return it.State
		}
	}
	return ""
}

// waitLiveStopped waits until video's live session is stopped.
func waitLiveStopped(t *testing.T, g *gwproc.Process, video string, within time.Duration, what string) {
	t.Helper()
	eventually(t, within, what, func() bool { return liveState(t, g, video) == "stopped" })
}
