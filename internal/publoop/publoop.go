// Package publoop runs a test publisher's writing goroutine on a hub path
// and lets it disconnect and reconnect, as an ingest whose encoder drops
// and comes back does. Test publishers (HLS, WebRTC) share it so that the
// start/stop hand-over is written once.
package publoop

import (
	"sync"

	"github.com/skyrelay/skyrelay/gateway"
)

// Loop is one publisher's connection to the hub; the zero value is
// stopped.
type Loop struct {
	mu   sync.Mutex
	pub  *gateway.Publisher
	stop chan struct{}
	done chan struct{}
}

// Start publishes tracks on path as a loopback test source and runs write
// in a goroutine until Stop closes stop.
func (l *Loop) Start(hub *gateway.Hub, path string, tracks []*gateway.Track, write func(pub *gateway.Publisher, stop <-chan struct{})) error {
	pub, err := hub.Publish(path, gateway.SourceInfo{Protocol: "test", RemoteAddr: "127.0.0.1:1"}, tracks)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.pub, l.stop, l.done = pub, make(chan struct{}), make(chan struct{})
	stop, done := l.stop, l.done
	l.mu.Unlock()
	go func() {
		defer close(done)
		write(pub, stop)
	}()
	return nil
}

// Stop ends the writing goroutine and disconnects; the stream waits the
// hub's grace period for the publisher to come back. Stopping a stopped
// Loop does nothing.
func (l *Loop) Stop() {
	l.mu.Lock()
	pub, stop, done := l.pub, l.stop, l.done
	l.pub = nil
	l.mu.Unlock()
	if pub == nil {
		return
	}
	close(stop)
	<-done
	pub.Close()
}
