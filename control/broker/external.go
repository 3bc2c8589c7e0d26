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
	Log          *slog.Logger

	cm      *autopaho.ConnectionManager
	cancel  context.CancelFunc
	mu      sync.Mutex
	subs    []subscription
	up      bool
	closed  bool
	dmu     sync.RWMutex // guards shards against a send after close
	shards  []chan inbound
	workers sync.WaitGroup
	outbox  chan inbound // Send's queue, drained by runOutbox
}

type subscription struct {
	filters []string
	h       Handler
}

type inbound struct {
	topic   string
	payload []byte
}

var _ Bus = (*External)(nil)

// queueLen bounds each worker's backlog; a full queue slows the reader
// (TCP back-pressure) rather than dropping device messages.
const queueLen = 4096

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
	x.workers.Add(1)
	go x.runOutbox(x.outbox)

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
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					x.dispatch(pr.Packet.Topic, pr.Packet.Payload)
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
	x.dmu.RLock()
	defer x.dmu.RUnlock()
	if x.outbox == nil {
		return
	}
	select {
	case x.outbox <- inbound{topic: topic, payload: payload}:
	default:
		x.Log.Warn("reply queue full; reply dropped (the device will ask again)", "topic", topic)
	}
}

func (x *External) runOutbox(ch chan inbound) {
	defer x.workers.Done()
	for m := range ch {
		if err := x.Publish(context.Background(), m.topic, m.payload); err != nil {
			x.Log.Debug("reply not sent", "topic", m.topic, "error", err)
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
	s := &paho.Subscribe{}
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
	x.mu.Lock()
	var filters []string
	for _, s := range x.subs {
		filters = append(filters, s.filters...)
	}
	x.mu.Unlock()
	if len(filters) > 0 {
		if err := x.subscribe(context.Background(), cm, filters); err != nil {
			x.Log.Error("cannot subscribe on the MQTT broker", "error", err)
			return
		}
	}
	x.Log.Info("connected to the MQTT broker", "subscriptions", len(filters))
	x.setUp(true, nil)
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
	// Workers never take dmu, so a send blocked on a full queue still
	// drains and Close still gets the lock.
	x.dmu.RLock()
	defer x.dmu.RUnlock()
	if len(x.shards) == 0 {
		return
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(snOf(topic)))
	x.shards[h.Sum32()%uint32(len(x.shards))] <- inbound{topic: topic, payload: payload}
}

func (x *External) work(ch chan inbound) {
	defer x.workers.Done()
	for m := range ch {
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
