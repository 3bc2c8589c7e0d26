package control

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/control/broker"
	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// Plane is the DJI control plane. Fill its fields (or use New), then call
// Initialize; Close ends it.
type Plane struct {
	// MQTT and Config are the mqtt and control sections of the
	// configuration, already validated by conf.
	MQTT   conf.MQTT
	Config conf.Control
	// Media is the media gateway; without it live sessions answer 503.
	Media Media
	Log   *slog.Logger
	// Cluster, when set, makes this plane one node of a cluster on the
	// external broker (cluster.go).
	Cluster *ClusterLink
	// TLS serves the embedded broker's mqtt.embedded.tls_listen.
	TLS broker.TLSListener
	// Recorder, when set, hears which device and flight each live session
	// films and every device's OSD (see Recorder).
	Recorder Recorder
	// OSDWatcher, when set, hears each device's merged osd and its going
	// offline (see OSDWatcher).
	OSDWatcher OSDWatcher
	// PublicHost names this gateway in the broker URL given with minted
	// Pilot credentials; empty uses the host the request came to.
	PublicHost string

	once     sync.Once
	log      *slog.Logger
	bus      broker.Bus
	embedded *broker.Embedded
	external *broker.External
	reg      *registry
	cmds     commander
	binds    bindings
	events   eventBus
	osdPace  osdPacer
	met      *metrics
	// sharedReplies: replies go out only from sharedReply (cluster.go).
	sharedReplies bool

	sessions sessionTable
	refused  refusals // back-off of on-demand starts after failures
	flights  sync.Map // gateway SN -> the flight id it reported last (recorder.go)

	malformedLogged atomic.Int64 // when a malformed message was last logged at info level

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup
}

// New returns a plane; call Initialize to start it.
func New(mqtt conf.MQTT, cfg conf.Control, media Media, log *slog.Logger) *Plane {
	p := &Plane{MQTT: mqtt, Config: cfg, Media: media, Log: log}
	p.ensure()
	return p
}

// ensure builds what the API, metrics and handlers need, once, so Handler
// and Collectors work before Initialize too.
func (p *Plane) ensure() {
	p.once.Do(func() {
		p.log = p.Log
		if p.log == nil {
			p.log = slog.Default()
		}
		p.reg = newRegistry()
		p.met = newMetrics(p)
		p.ctx, p.cancel = context.WithCancel(context.Background())
		p.done = make(chan struct{})
	})
}

// Initialize starts the broker (or connects to the external one) and
// subscribes to the device topics. The configuration was validated when
// it was loaded (conf.Parse).
func (p *Plane) Initialize() error {
	p.ensure()
	m := p.MQTT
	if m.Broker == "embedded" {
		e := &broker.Embedded{Config: m.Embedded, ParentOf: p.reg.parentOf, TLS: p.TLS, Log: p.log.With("component", "mqtt-broker"),
			OnRefused: p.met.aclRefused}
		if err := e.Initialize(); err != nil {
			return fmt.Errorf("mqtt.embedded: %w", err)
		}
		p.embedded, p.bus = e, e
		if err := e.Subscribe(cloudapi.Subscriptions, p.onMessage); err != nil {
			e.Close()
			return err
		}
		p.log.Info("embedded MQTT broker listening", "tcp", e.Addr(), "ws", e.WSAddr(), "tls", e.TLSAddr(), "users", len(m.Embedded.Users))
	} else {
		x := &broker.External{Config: m, ReconnectMin: reconnectMin, OnConnection: p.onConnection, Log: p.log.With("component", "mqtt-client")}
		if err := x.Subscribe(cloudapi.Subscriptions, p.onMessage); err != nil {
			return err
		}
		if p.Cluster != nil {
			if err := p.joinCluster(x); err != nil {
				return err
			}
		}
		if err := x.Initialize(); err != nil {
			return fmt.Errorf("mqtt.broker: %w", err)
		}
		p.external, p.bus = x, x
	}
	p.wg.Add(1)
	go p.runSweep()
	return nil
}

// reconnectMin is the first back-off step to an external broker; tests
// shorten it.
var reconnectMin = 250 * time.Millisecond

// Close stops every goroutine and the broker. Live sessions are left as they
// are on the devices: a restarted Skyrelay takes over nothing.
func (p *Plane) Close() {
	p.ensure()
	sessions, first := p.sessions.close()
	if !first {
		return
	}
	close(p.done)
	p.cancel()
	for _, s := range sessions {
		s.end(End{Cause: EndShutdown}, StepStopped, "Skyrelay is shutting down", nil)
	}
	p.cmds.failAll(broker.ErrClosed)
	if p.embedded != nil {
		p.embedded.Close()
	}
	if p.external != nil {
		p.external.Close()
	}
	p.wg.Wait()
	p.events.close()
}

// BrokerAddr is the embedded broker's TCP address ("" otherwise).
func (p *Plane) BrokerAddr() string {
	if p.embedded == nil {
		return ""
	}
	return p.embedded.Addr()
}

// background runs fn on a goroutine Close waits for; fn's context ends at
// Close. It does nothing once Close has begun.
func (p *Plane) background(fn func(ctx context.Context)) {
	p.sessions.ifOpen(func() {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			fn(p.ctx)
		}()
	})
}

// onConnection follows the external broker connection. Commands waiting for
// a reply fail at once when it drops: their replies can no longer arrive,
// and failing after reply_timeout would hide why.
func (p *Plane) onConnection(up bool, err error) {
	if up {
		p.events.publish(Event{Type: EventMQTT, Data: map[string]any{"connected": true}})
		return
	}
	if err == nil {
		err = broker.ErrConnectionLost
	}
	p.cmds.failAll(err)
	p.events.publish(Event{Type: EventMQTT, Data: map[string]any{"connected": false, "error": err.Error()}})
}

// runSweep marks silent devices offline and forgets long-ended sessions.
func (p *Plane) runSweep() {
	defer p.wg.Done()
	tick := min(max(p.Config.OfflineAfter/4, 10*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			p.sweep(now)
		case <-p.done:
			return
		}
	}
}

// sweep marks devices silent at now offline and forgets long-ended
// sessions.
func (p *Plane) sweep(now time.Time) {
	for _, gw := range p.reg.sweep(now, p.Config.OfflineAfter) {
		p.log.Info("device offline", "gateway", gw, "silent_for", p.Config.OfflineAfter)
		p.events.publish(Event{Type: EventDeviceOffline, SN: gw, Gateway: gw})
		p.watchOffline(gw, now)
		p.onDeviceOffline(gw)
	}
	p.sessions.forgetEnded(now, endedKept)
}

// endedKept is how long an ended session stays visible in GET /api/v1/live.
const endedKept = time.Hour
