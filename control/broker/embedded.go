package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/skyrelay/skyrelay/conf"
)

// Embedded runs an MQTT 3.1.1 + 5 broker (mochi-mqtt) inside the process.
// Devices connect over TCP or WebSocket; the control plane is mochi's inline
// client, so its own messages never touch a socket.
type Embedded struct {
	// Config is the mqtt.embedded section: listeners ("" disables one),
	// device accounts and whether anonymous clients get in from anywhere
	// (from loopback they always do: local tools, the simulator).
	Config conf.MQTTEmbedded
	// ParentOf names the device holding the connection of an aircraft
	// SN, or "" (see authHook).
	ParentOf func(sn string) string
	Log      *slog.Logger
	// TLS serves Config.TLSListen (MQTT over TLS) with the gateway's
	// certificate (tlscert.Holder).
	TLS TLSListener
	// OnRefused, if set, is told of every publish (publish true) or
	// subscription or delivery the topic rule refused; the plane counts them.
	OnRefused func(publish bool)

	server *mqtt.Server
	hook   *authHook
	logged onceLog
	tcp    *tcpListener
	ws     *wsListener
	tlsLn  net.Listener
	mu     sync.Mutex
	closed bool
	subID  int
}

var _ Bus = (*Embedded)(nil)

// Per-client limits of the embedded broker.
const (
	clientWritesPending = 256
	maxPacketSize       = 1 << 20
)

// Initialize opens the listeners.
func (e *Embedded) Initialize() error {
	if e.Log == nil {
		e.Log = slog.Default()
	}
	for _, u := range e.Config.Users {
		if u.User == "" || u.Password == "" {
			return fmt.Errorf("every embedded broker user needs a username and a password")
		}
	}
	caps := mqtt.NewDefaultServerCapabilities()
	// mochi gives every client an outbound queue of this many packet
	// pointers up front; its default (8 192, 64 kB) was two thirds of a
	// connected dock's cost. A device is sent commands and replies, a few
	// at a time: a queue of 256 only fills when the device stops reading,
	// and then dropping is right.
	caps.MaximumClientWritesPending = clientWritesPending
	// DJI messages are a few kB; without a bound, one packet header could
	// make the broker allocate up to 256 MB.
	caps.MaximumPacketSize = maxPacketSize
	e.server = mqtt.New(&mqtt.Options{
		InlineClient: true,
		Logger:       slog.New(quietLog{e.Log.Handler()}),
		Capabilities: caps,
		// $SYS topics are noise for devices and nobody here reads them.
		SysTopicResendInterval: 3600,
	})
	hook := newAuthHook(e.Config.Users, e.Config.AllowAnonymous, e.ParentOf)
	hook.onDeniedAccess = e.refused
	e.hook = hook
	if err := e.server.AddHook(hook, nil); err != nil {
		return err
	}
	if e.Config.Listen != "" {
		e.tcp = &tcpListener{id: "tcp", address: e.Config.Listen}
		if err := e.server.AddListener(e.tcp); err != nil {
			_ = e.server.Close()
			return fmt.Errorf("listen %s: %w", e.Config.Listen, err)
		}
	}
	if e.Config.TLSListen != "" {
		if err := e.listenTLS(); err != nil {
			_ = e.server.Close()
			return err
		}
	}
	if e.Config.WSListen != "" {
		e.ws = &wsListener{id: "ws", address: e.Config.WSListen}
		if err := e.server.AddListener(e.ws); err != nil {
			_ = e.server.Close()
			return fmt.Errorf("ws_listen %s: %w", e.Config.WSListen, err)
		}
	}
	return e.server.Serve()
}

// Close disconnects every client and closes the listeners.
func (e *Embedded) Close() {
	e.mu.Lock()
	if e.closed || e.server == nil {
		e.closed = true
		e.mu.Unlock()
		return
	}
	e.closed = true
	e.mu.Unlock()
	_ = e.server.Close()
}

// Addr is the TCP address the broker listens on ("" when disabled).
func (e *Embedded) Addr() string {
	if e.tcp == nil {
		return ""
	}
	return e.tcp.Address()
}

// TLSAddr is the MQTT-over-TLS address ("" when disabled).
func (e *Embedded) TLSAddr() string {
	if e.tlsLn == nil {
		return ""
	}
	return e.tlsLn.Addr().String()
}

// WSAddr is the WebSocket address ("" when disabled).
func (e *Embedded) WSAddr() string {
	if e.ws == nil {
		return ""
	}
	return e.ws.Address()
}

// Publish hands payload to every subscriber at QoS 1, never retained.
func (e *Embedded) Publish(_ context.Context, topic string, payload []byte) error {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return e.server.Publish(topic, payload, false, 1)
}

// Send publishes a reply: an in-memory hand-over that never waits on a
// device, so it runs in line.
func (e *Embedded) Send(topic string, payload []byte) {
	if err := e.Publish(context.Background(), topic, payload); err != nil {
		e.Log.Debug("reply not sent", "topic", topic, "error", err)
	}
}

// Subscribe delivers matching messages to h on the publishing client's
// goroutine, so one device's messages stay in order.
func (e *Embedded) Subscribe(filters []string, h Handler) error {
	e.mu.Lock()
	e.subID++
	id := e.subID
	e.mu.Unlock()
	for _, f := range filters {
		err := e.server.Subscribe(f, id, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
			h(pk.TopicName, pk.Payload)
		})
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", f, err)
		}
	}
	return nil
}
