package testpeer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Broker is a real Mosquitto broker started for one test on a free
// loopback port, MQTT 3.1.1 and 5, anonymous, without persistence.
type Broker struct {
	Addr string // "127.0.0.1:PORT"
	Port int

	t    testing.TB
	conf string
	mu   sync.Mutex
	proc *Proc
}

// Mosquitto starts a broker for t and returns once it accepts connections.
// extraConfig lines are appended to its generated mosquitto.conf (e.g. a
// second "listener" with "protocol websockets"). It is stopped when the test
// ends; Restart brings it back on the same port.
func Mosquitto(t testing.TB, extraConfig ...string) *Broker {
	t.Helper()
	Require(t, "mosquitto")
	b := &Broker{t: t}
	dir := t.TempDir()
	var err error
	// A port found free can be taken before mosquitto binds it: try another.
	for attempt := 0; attempt < 3; attempt++ {
		b.Port = FreePort(t)
		b.Addr = fmt.Sprintf("127.0.0.1:%d", b.Port)
		b.conf = filepath.Join(dir, "mosquitto.conf")
		conf := strings.Join(append([]string{
			fmt.Sprintf("listener %d 127.0.0.1", b.Port),
			"allow_anonymous true",
			"persistence false",
			"log_dest stderr",
			"log_type error",
			"log_type warning",
			"log_type notice",
			"log_type information",
			"connection_messages true",
		}, extraConfig...), "\n") + "\n"
		if err = os.WriteFile(b.conf, []byte(conf), 0o644); err != nil {
			t.Fatalf("testpeer: %v", err)
		}
		if err = b.start(); err == nil {
			return b
		}
	}
	t.Fatalf("testpeer: mosquitto: %v", err)
	return nil
}

// URL returns the broker's address as tcp://127.0.0.1:PORT.
func (b *Broker) URL() string { return "tcp://" + b.Addr }

func (b *Broker) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc != nil {
		return fmt.Errorf("already running")
	}
	p := Start(b.t, "mosquitto", "-c", b.conf)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.WaitOutput(ctx, " running"); err != nil {
		p.Stop()
		return err
	}
	if err := WaitTCP(ctx, b.Addr); err != nil {
		p.Stop()
		return err
	}
	b.proc = p
	return nil
}

// Stop stops the broker (SIGTERM; clients see their connection close).
func (b *Broker) Stop() {
	b.mu.Lock()
	p := b.proc
	b.proc = nil
	b.mu.Unlock()
	if p != nil {
		p.Stop()
	}
}

// Start starts a stopped broker again on the same port, failing the test
// if it cannot.
func (b *Broker) Start() {
	b.t.Helper()
	if err := b.start(); err != nil {
		b.t.Fatalf("testpeer: mosquitto restart on %s: %v", b.Addr, err)
	}
}

// Restart stops the broker and starts it again on the same port; clients
// lose their sessions (persistence is off).
func (b *Broker) Restart() {
	b.t.Helper()
	b.Stop()
	b.Start()
}
