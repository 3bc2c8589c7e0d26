package broker

import (
	"context"
	"errors"
)

// Handler receives one message. It runs on a goroutine of the broker or the
// client library: it must not block for long, and it may be called from
// several goroutines at once (messages of one topic arrive in order).
type Handler func(topic string, payload []byte)

// Bus is what the control plane needs from MQTT. Every publish is QoS 1 and
// never retained: a retained command would be delivered again on every
// device reconnect (docs/dji-cloud-api.md, topics), so the interface has no way to ask
// for one.
type Bus interface {
	// Publish sends payload on topic.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Send publishes a reply without waiting: it is called on the goroutine
	// that delivers a device's messages, which must not stall. Failures are
	// logged, not returned; a device asks again when it gets no reply.
	Send(topic string, payload []byte)
	// Subscribe delivers every message matching one of filters to h, now and
	// after every reconnect.
	Subscribe(filters []string, h Handler) error
}

// Errors of a Bus.
var (
	// ErrConnectionLost fails commands that were waiting for a reply when the
	// connection to the broker dropped: the device may or may not have acted.
	ErrConnectionLost = errors.New("the connection to the MQTT broker was lost")
	// ErrNotConnected refuses a publish while the broker is unreachable.
	ErrNotConnected = errors.New("not connected to the MQTT broker")
	// ErrClosed refuses use after Close.
	ErrClosed = errors.New("the MQTT bus is closed")
)
