package broker

import (
	"context"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// ReplyHandler answers one device message delivered through a shared
// subscription: it returns the reply to publish, or an empty topic for
// none. It must not block for long.
type ReplyHandler func(topic string, payload []byte) (replyTopic string, reply []byte)

// sharedSub is one SubscribeShared call.
type sharedSub struct {
	group   string
	plain   []string
	handler ReplyHandler
}

func (s sharedSub) filters() []string {
	out := make([]string, len(s.plain))
	for i, f := range s.plain {
		out[i] = "$share/" + s.group + "/" + f
	}
	return out
}

// SubscribeShared subscribes to filters through the MQTT 5 shared
// subscription $share/group/filter, now and after every reconnect: of all
// the clients in the group, the broker gives each message to one. h's reply
// is published before the message is acknowledged, so a node that dies
// between the two leaves the message unacknowledged for the broker to hand
// to another member (EMQX does; Mosquitto 2 drops it, and the device asks
// again: docs/cluster.md). A message matching a plain subscription too
// arrives there as well; the subscription identifier keeps the two apart.
//
// Call it before Initialize: the client is then set up to acknowledge
// messages itself.
func (x *External) SubscribeShared(group string, filters []string, h ReplyHandler) error {
	s := sharedSub{group: group, plain: filters, handler: h}
	x.mu.Lock()
	x.shared = append(x.shared, s)
	up := x.up
	x.mu.Unlock()
	if up {
		return x.subscribeID(context.Background(), x.cm, s.filters(), subShared)
	}
	return nil
}

// PublishRetained publishes a retained message at QoS 1 that the broker
// forgets after expiry (0: never); an empty payload clears the topic.
func (x *External) PublishRetained(ctx context.Context, topic string, payload []byte, expiry time.Duration) error {
	x.mu.Lock()
	closed, up := x.closed, x.up
	x.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if !up {
		return ErrNotConnected
	}
	p := &paho.Publish{Topic: topic, Payload: payload, QoS: 1, Retain: true}
	if expiry > 0 {
		sec := uint32((expiry + time.Second - 1) / time.Second)
		p.Properties = &paho.PublishProperties{MessageExpiry: &sec}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := x.cm.Publish(ctx, p)
	return err
}

// received routes one incoming PUBLISH: a copy through a shared
// subscription waits for its reply before it is acknowledged; any other is
// acknowledged at once (manual acknowledgement is on for the shared ones,
// and paho sends acknowledgements in arrival order).
func (x *External) received(pr paho.PublishReceived) {
	pk := pr.Packet
	if !x.manualAck {
		x.dispatch(pk.Topic, pk.Payload) // acknowledged by paho on return
		return
	}
	if pk.Properties != nil && pk.Properties.SubscriptionIdentifier != nil && *pk.Properties.SubscriptionIdentifier == subShared {
		cl := pr.Client
		x.dispatchMsg(inbound{topic: pk.Topic, payload: pk.Payload, ack: func() { _ = cl.Ack(pk) }})
		return
	}
	_ = pr.Client.Ack(pk)
	x.dispatch(pk.Topic, pk.Payload)
}

// reply runs on a worker: the handler of the matching shared filter
// answers, and the reply goes to the outbox, which publishes it (PUBACK
// awaited) and only then acknowledges the device's message. The worker
// does not wait itself: paho's reader may be blocked on this worker's full
// queue, and then no PUBACK would ever be read.
func (x *External) reply(m inbound) {
	x.mu.Lock()
	shared := x.shared
	x.mu.Unlock()
	for _, s := range shared {
		for _, f := range s.plain {
			if !Match(f, m.topic) {
				continue
			}
			topic, reply := s.handler(m.topic, m.payload)
			if topic == "" {
				m.ack()
				return
			}
			x.enqueue(inbound{topic: topic, payload: reply, ack: m.ack})
			return
		}
	}
	m.ack()
}
