package publoop

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/skyrelay/skyrelay/gateway"
)

// TestStartStopRestart checks the hand-over: write runs until Stop, Stop
// waits for it to return, a second Stop does nothing, and Start after Stop
// reconnects.
func TestStartStopRestart(t *testing.T) {
	hub := gateway.NewHub(time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tr, err := gateway.TrackFor(&format.H264{PayloadTyp: 96, PacketizationMode: 1})
	if err != nil {
		t.Fatal(err)
	}
	var l Loop
	l.Stop() // a zero Loop is stopped
	for round := 0; round < 2; round++ {
		running, returned := make(chan struct{}), make(chan struct{})
		err := l.Start(hub, "live/x", []*gateway.Track{tr}, func(pub *gateway.Publisher, stop <-chan struct{}) {
			defer close(returned)
			if pub == nil {
				t.Error("no publisher")
			}
			close(running)
			<-stop
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		<-running
		l.Stop()
		select {
		case <-returned:
		default:
			t.Fatalf("round %d: Stop returned before write did", round)
		}
		l.Stop()
	}
}
