package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/skyrelay/skyrelay/conf"
)

// External is a client connection (MQTT 5, paho autopaho) to a broker the
// operator runs, such as EMQX or Mosquitto. It reconnects with back-off and
// subscribes again after every reconnect.
type External struct {
	// Config is the mqtt section: Broker is tcp://, tls://, ws:// or
	// wss:// (mqtt:// and ssl:// too), and credentials in that URL are used
	// when Username is empty.
	Config conf.MQTT
	// ReconnectMin and ReconnectMax bound the back-off between attempts
	// (defaults 250 ms and 10 s).
	ReconnectMin, ReconnectMax time.Duration
	// OnConnection is told when the connection is up again with every
	// subscription in place (up), or when it dropped (err says why). It must
	// not block.
	OnConnection func(up bool, err error)
	// WillTopic, when set, is published retained and empty by the broker
	// when this client goes without a DISCONNECT: a cluster node's
	// directory entry then disappears with it (docs/cluster.md).
	WillTopic string
	Log       *slog.Logger

	cm     *autopaho.ConnectionManager
	cancel context.CancelFunc
	mu     sync.Mutex
	subs   []subscription
	shared []sharedSub
	// manualAck: shared subscriptions were asked for before Initialize,
	// and their messages are acknowledged once answered.
	manualAck bool
	connects  uint64 // connections made, subscriptions in place
	up        bool
	closed    bool
	dmu       sync.RWMutex // guards shards against a send after close
	shards    []chan inbound
	workers   sync.WaitGroup
	outbox    chan inbound // Send's queue, drained by runOutbox
}

type subscription struct {
	filters []string
	h       Handler
}

type inbound struct {
	topic   string
	payload []byte
	// ack, for a message of a shared subscription, acknowledges it once
	// its reply was published (nil otherwise).
	ack func()
}

// Subscription identifiers tell the copy of a message that came through a
// plain subscription from the one a shared subscription delivered.
const (
	subPlain  = 1
	subShared = 2
)

var _ Bus = (*External)(nil)

// queueLen bounds each worker's backlog; a full queue slows the reader
// (TCP back-pressure) rather than dropping device messages.
const queueLen = 4096

// receiveMaximum is the in-flight window a cluster node grants the broker.
const receiveMaximum = 1024

// Initialize starts connecting; it does not wait for the broker, which may
// come up later.
func (x *External) Initialize() error {
	if x.Log == nil {
		x.Log = slog.Default()
	}
	u, err := url.Parse(x.Config.Broker)
	if err != nil || u.Host == "" {
		return fmt.Errorf("broker %q is not a URL", conf.RedactURL(x.Config.Broker))
	}
	username, password := x.Config.Username, string(x.Config.Password)
	if username == "" && u.User != nil {
		username = u.User.Username()
		password, _ = u.User.Password()
	}
	u.User = nil
	clientID := x.Config.ClientID
	if clientID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		clientID = "skyrelay-" + hex.EncodeToString(b[:])
	}
	if x.ReconnectMin <= 0 {
		x.ReconnectMin = 250 * time.Millisecond
	}
	if x.ReconnectMax <= x.ReconnectMin {
		x.ReconnectMax = max(10*time.Second, 2*x.ReconnectMin)
	}
	// Workers keep paho's reader free: a handler that publishes a reply and
	// waited for its PUBACK on paho's own goroutine would deadlock it.
	// Messages are sharded by SN so one device's messages stay in order.
	n := 8
	x.shards = make([]chan inbound, n)
	for i := range x.shards {
		ch := make(chan inbound, queueLen)
		x.shards[i] = ch
		x.workers.Add(1)
		go x.work(ch)
	}
	x.outbox = make(chan inbound, queueLen)
	senders := 1
	if len(x.shared) > 0 {
		// A cluster node's replies wait here until published: room for
		// every message the broker may have in flight to it (MQTT 5's
		// largest Receive Maximum), so none is dropped while the node is
		// behind; several senders, each waiting for its PUBACK.
		x.outbox = make(chan inbound, 1<<16)
		senders = 4
	}
	for range senders {
		x.workers.Add(1)
		go x.runOutbox(x.outbox)
	}

	x.mu.Lock()
	x.manualAck = len(x.shared) > 0
	x.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	x.cancel = cancel
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     10,
		CleanStartOnInitialConnection: true,
		SessionExpiryInterval:         0,
		ReconnectBackoff:              autopaho.NewExponentialBackoff(x.ReconnectMin, x.ReconnectMax, x.ReconnectMin*2, 2),
		ConnectTimeout:                10 * time.Second,
		ConnectUsername:               username,
		ConnectPassword:               []byte(password),
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			go x.connected(cm)
		},
		OnConnectionDown: func() bool {
			x.setUp(false, ErrConnectionLost)
			return true
		},
		OnConnectError: func(err error) {
			x.Log.Debug("cannot connect to the MQTT broker", "broker", u.Redacted(), "error", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID: clientID,
			// Only a cluster node delays acknowledgements (shared.go);
			// paho sends manual ones in batches every SendAcksInterval,
			// which with the in-flight window bounds the rate (the
			// default 50 ms held a node to a few hundred messages a
			// second in BenchmarkClusterReplies).
			EnableManualAcknowledgment: x.manualAck,
			SendAcksInterval:           5 * time.Millisecond,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					x.received(pr)
					return true, nil
				},
			},
			OnClientError: func(err error) {
				x.Log.Debug("MQTT client error", "error", err)
			},
		},
	}
	if username == "" {
		cfg.ConnectPassword = nil
	}
	if x.manualAck {
		// The broker sends at most this many unacknowledged messages: a
		// node behind makes the broker queue rather than flood the node.
		cfg.ConnectPacketBuilder = func(c *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			if c.Properties == nil {
				c.Properties = &paho.ConnectProperties{}
			}
			rm := uint16(receiveMaximum)
			c.Properties.ReceiveMaximum = &rm
			return c, nil
		}
	}
	if x.WillTopic != "" {
		cfg.WillMessage = &paho.WillMessage{Topic: x.WillTopic, QoS: 1, Retain: true, Payload: []byte{}}
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		cancel()
		x.stopWorkers()
		return err
	}
	x.cm = cm
	x.Log.Info("connecting to the MQTT broker", "broker", u.Redacted(), "client_id", clientID)
	return nil
}

// Close disconnects.
func (x *External) Close() {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return
	}
	x.closed = true
	x.mu.Unlock()
	if x.cm != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = x.cm.Disconnect(ctx)
		cancel()
	}
	if x.cancel != nil {
		x.cancel()
	}
	x.stopWorkers()
}

func (x *External) stopWorkers() {
	x.dmu.Lock()
	for _, ch := range x.shards {
		close(ch)
	}
	x.shards = nil
	if x.outbox != nil {
		close(x.outbox)
		x.outbox = nil
	}
	x.dmu.Unlock()
	x.workers.Wait()
}

// Connected reports whether the connection is up with its subscriptions.
func (x *External) Connected() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.up
}

// Connects counts the connections made so far with every subscription in
// place: a change means a new session, whose retained state (a cluster
// node's directory entry) may have to be published again.
func (x *External) Connects() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.connects
}

// Publish sends at QoS 1 and waits for the broker's PUBACK.
func (x *External) Publish(ctx context.Context, topic string, payload []byte) error {
	x.mu.Lock()
	closed, up := x.closed, x.up
	x.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if !up {
		return ErrNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := x.cm.Publish(ctx, &paho.Publish{Topic: topic, Payload: payload, QoS: 1, Retain: false})
	if errors.Is(err, autopaho.ConnectionDownError) {
		return ErrNotConnected
	}
	return err
}

// Send queues a reply to a device and returns at once: waiting for the
// PUBACK on the goroutine that delivers the device's messages would stall
// them. A full queue drops the reply; the device asks again.
func (x *External) Send(topic string, payload []byte) {
	x.enqueue(inbound{topic: topic, payload: payload})
}

// enqueue hands a reply to the outbox; m.ack, if any, runs once it was
// published or dropped.
func (x *External) enqueue(m inbound) {
	x.dmu.RLock()
	defer x.dmu.RUnlock()
	if x.outbox == nil {
		if m.ack != nil {
			m.ack()
		}
		return
	}
	select {
	case x.outbox <- m:
	default:
		x.Log.Warn("reply queue full; reply dropped (the device will ask again)", "topic", m.topic)
		if m.ack != nil {
			m.ack()
		}
	}
}

func (x *External) runOutbox(ch chan inbound) {
	defer x.workers.Done()
	for m := range ch {
		if err := x.Publish(context.Background(), m.topic, m.payload); err != nil {
			x.Log.Debug("reply not sent", "topic", m.topic, "error", err)
		}
		if m.ack != nil {
			m.ack()
		}
	}
}

// Subscribe records the filters (for every reconnect) and subscribes now if
// connected.
func (x *External) Subscribe(filters []string, h Handler) error {
	x.mu.Lock()
	x.subs = append(x.subs, subscription{filters: filters, h: h})
	up := x.up
	x.mu.Unlock()
	if up {
		return x.subscribe(context.Background(), x.cm, filters)
	}
	return nil
}

func (x *External) subscribe(ctx context.Context, cm *autopaho.ConnectionManager, filters []string) error {
	return x.subscribeID(ctx, cm, filters, subPlain)
}

func (x *External) subscribeID(ctx context.Context, cm *autopaho.ConnectionManager, filters []string, id int) error {
	s := &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: &id}}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ack, err := cm.Subscribe(ctx, s)
	if err != nil {
		return err
	}
	for i, code := range ack.Reasons {
		if code >= 0x80 && i < len(filters) {
			return fmt.Errorf("broker refused subscription to %s (reason code 0x%02x)", filters[i], code)
		}
	}
	return nil
}

// connected subscribes again (the session is clean) and only then reports
// the connection up, so nobody publishes into a gap where replies would be
// lost.
func (x *External) connected(cm *autopaho.ConnectionManager) {
	// A Subscribe call while this runs finds the connection not yet up and
	// only records its filters: loop until no filter was added meanwhile,
	// and mark the connection up under the same lock.
	doneSubs, doneShared, total := 0, 0, 0
	for {
		x.mu.Lock()
		var filters, shared []string
		for _, s := range x.subs[doneSubs:] {
			filters = append(filters, s.filters...)
		}
		for _, s := range x.shared[doneShared:] {
			shared = append(shared, s.filters()...)
		}
		if len(filters)+len(shared) == 0 {
			changed := !x.up
			x.up = true
			x.connects++
			x.mu.Unlock()
			x.Log.Info("connected to the MQTT broker", "subscriptions", total)
			if changed && x.OnConnection != nil {
				x.OnConnection(true, nil)
			}
			return
		}
		doneSubs, doneShared = len(x.subs), len(x.shared)
		x.mu.Unlock()
		if len(filters) > 0 {
			if err := x.subscribe(context.Background(), cm, filters); err != nil {
				x.Log.Error("cannot subscribe on the MQTT broker", "error", err)
				return
			}
		}
		if len(shared) > 0 {
			if err := x.subscribeID(context.Background(), cm, shared, subShared); err != nil {
				x.Log.Error("cannot make the shared subscriptions on the MQTT broker", "error", err)
				return
			}
		}
		total += len(filters) + len(shared)
	}
}

func (x *External) setUp(up bool, err error) {
	x.mu.Lock()
	changed := x.up != up
	x.up = up
	closed := x.closed
	x.mu.Unlock()
	if !up && changed && !closed {
		x.Log.Warn("lost the connection to the MQTT broker; reconnecting")
	}
	if changed && x.OnConnection != nil {
		x.OnConnection(up, err)
	}
}

func (x *External) dispatch(topic string, payload []byte) {
	x.dispatchMsg(inbound{topic: topic, payload: payload})
}

func (x *External) dispatchMsg(m inbound) {
	// Workers never take dmu, so a send blocked on a full queue still
	// drains and Close still gets the lock.
	x.dmu.RLock()
	defer x.dmu.RUnlock()
	if len(x.shards) == 0 {
		return
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(snOf(m.topic)))
	x.shards[h.Sum32()%uint32(len(x.shards))] <- m
}

func (x *External) work(ch chan inbound) {
	defer x.workers.Done()
	for m := range ch {
		if m.ack != nil {
			x.reply(m)
			continue
		}
		x.mu.Lock()
		subs := x.subs
		x.mu.Unlock()
		for _, s := range subs {
			for _, f := range s.filters {
				if Match(f, m.topic) {
					s.h(m.topic, m.payload)
					break
				}
			}
		}
	}
}

// snOf is the third topic level ({sn} of DJI topics), or the topic.
func snOf(topic string) string {
	parts := strings.SplitN(topic, "/", 4)
	if len(parts) >= 3 {
		return parts[2]
	}
	return topic
}

// Match reports whether an MQTT topic filter matches a topic name.
func Match(filter, topic string) bool {
	for {
		f, frest, fmore := strings.Cut(filter, "/")
		if f == "#" {
			return true
		}
		t, trest, tmore := strings.Cut(topic, "/")
		if f != "+" && f != t {
			return false
		}
		if !fmore || !tmore {
			if !fmore && !tmore {
				return true
			}
			return fmore && frest == "#"
		}
		filter, topic = frest, trest
	}
}
