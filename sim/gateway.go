package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Options are the settings common to every simulated gateway. Only Broker
// is required.
type Options struct {
	Broker      string // MQTT broker: tcp://host:port (or mqtt://), tls://host:port (or ssl://, mqtts://); may hold user:password@
	MQTTVersion int    // 4 (MQTT 3.1.1, the default) or 5
	Username    string
	Password    string
	ClientID    string // default: the gateway SN

	OSDInterval   time.Duration // osd period for gateway and aircraft; default 2 s
	TopoRetry     time.Duration // update_topo is re-sent this often until status_reply; default 5 s
	EventInterval time.Duration // hms events this often (every third asks for a reply); default 30 s, negative: never
	Reconnect     time.Duration // wait before reconnecting a lost MQTT connection; default 2 s
	KeepAlive     time.Duration // MQTT keepalive; default 30 s

	// RTSPListen, when set, is where a url_type 2 push runs its RTSP server
	// instead of the port the cloud names (tests: "127.0.0.1:0").
	// RTSPHost is the address put into the reply's URL; default the
	// listen host, or the machine's first non-loopback IPv4 address when
	// the server listens on every interface.
	RTSPListen, RTSPHost string
	// RTSPReplyInfo replies the RTSP URL in data.info, as Pilot builds
	// before the 2024 SDK did, instead of data.output.
	RTSPReplyInfo bool

	// Faults, if set, lets the caller inject failures while the gateway runs
	// (NewFaults). One Faults belongs to one gateway.
	Faults *Faults
	// Logger receives the gateway's log; default slog.Default().
	Logger *slog.Logger
	// OnNote, if set, is told what the gateway does (for tests and tools);
	// it is called synchronously and must not block.
	OnNote func(Note)
}

// Note is one thing a simulated gateway did or saw.
type Note struct {
	Gateway string // gateway SN
	Kind    string // one of the Note* kinds
	Method  string // services method, for NoteService
	VideoID string // for push notes
	Result  int    // services_reply result, or error_status for NotePushHealth
}

// Kinds of Note.
const (
	NoteConnected    = "connected"     // MQTT connected and subscribed
	NoteDisconnected = "disconnected"  // MQTT connection lost or dropped
	NoteTopoAcked    = "topo_acked"    // status_reply to update_topo received
	NoteService      = "service"       // a services_reply was sent (Method, Result)
	NoteIgnored      = "ignored"       // a services command was ignored on purpose (Method)
	NotePushStarted  = "push_started"  // media started (VideoID)
	NotePushStopped  = "push_stopped"  // media stopped (VideoID)
	NotePushHealth   = "push_health"   // error_status changed (VideoID, Result)
	NotePushResumed  = "push_resumed"  // media flows again after a gap or a break (VideoID)
	NoteEventReplied = "event_replied" // events_reply received
	NoteConfigReply  = "config_reply"  // requests_reply to config received
)

// Dock simulates a DJI Dock 3 with a Matrice 4TD over MQTT.
type Dock struct {
	SN         string // default DefaultDockSN
	AircraftSN string // default DefaultDockAircraftSN
	// NoQuirks leaves out the dock's stream quirks (0xF5 SEI units, empty
	// NAL units) that are on by default.
	NoQuirks bool
	Options
}

// Run simulates the dock until ctx ends. It reconnects a lost MQTT
// connection by itself and returns an error only for unusable options.
func (d Dock) Run(ctx context.Context) error {
	m := dock3Model(or(d.SN, DefaultDockSN), or(d.AircraftSN, DefaultDockAircraftSN))
	return run(ctx, m, d.Options, !d.NoQuirks)
}

// RC simulates a DJI RC Plus 2 running Pilot 2 with a Matrice 4T over MQTT.
type RC struct {
	SN         string // default DefaultRCSN
	AircraftSN string // default DefaultRCAircraftSN
	// Quirks adds DJI's stream quirks (off by default for the RC).
	Quirks bool
	Options
}

// Run simulates the remote controller until ctx ends, like Dock.Run.
func (r RC) Run(ctx context.Context) error {
	m := rcPlus2Model(or(r.SN, DefaultRCSN), or(r.AircraftSN, DefaultRCAircraftSN))
	return run(ctx, m, r.Options, r.Quirks)
}

// VideoIDs lists the video_ids a dock with these SNs offers.
func (d Dock) VideoIDs() []string {
	return dock3Model(or(d.SN, DefaultDockSN), or(d.AircraftSN, DefaultDockAircraftSN)).videoIDs()
}

// VideoIDs lists the video_ids a remote controller with these SNs offers.
func (r RC) VideoIDs() []string {
	return rcPlus2Model(or(r.SN, DefaultRCSN), or(r.AircraftSN, DefaultRCAircraftSN)).videoIDs()
}

func (m *model) videoIDs() []string {
	var ids []string
	for _, c := range m.cameras {
		ids = append(ids, c.videoID())
	}
	return ids
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// gateway is a running simulated gateway.
type gateway struct {
	m      *model
	opts   Options
	quirks bool
	log    *slog.Logger
	faults *Faults
	clip   *clip
	ctx    context.Context // Run's context

	svcMu sync.Mutex // one services command at a time, like a device

	mu       sync.Mutex // guards what follows
	conn     *mqttConn
	topoAck  bool
	sessions map[*camera]*session
	status   []*liveStatus // live_status entries, in order of first start
	events   int
}

// session is one running push.
type session struct {
	pusher pusher
	entry  *liveStatus
	gap    chan time.Duration
}

func (o *Options) validate() error {
	u, err := url.Parse(o.Broker)
	switch {
	case o.Broker == "":
		return errors.New("no MQTT broker given")
	case err != nil:
		return fmt.Errorf("broker URL: %w", err)
	case u.Host == "":
		return fmt.Errorf("broker URL %q: want tcp://host:port", o.Broker)
	case o.MQTTVersion != 0 && o.MQTTVersion != 4 && o.MQTTVersion != 5:
		return fmt.Errorf("MQTT version %d: want 4 (3.1.1) or 5", o.MQTTVersion)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "tls", "ssl", "mqtts":
	default:
		return fmt.Errorf("broker URL scheme %q: want tcp:// or tls://", u.Scheme)
	}
	return nil
}

func (o *Options) withDefaults(gatewaySN string) {
	if o.MQTTVersion == 0 {
		o.MQTTVersion = 4
	}
	if o.ClientID == "" {
		o.ClientID = gatewaySN
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.OSDInterval, 2*time.Second)
	def(&o.TopoRetry, 5*time.Second)
	def(&o.EventInterval, 30*time.Second)
	def(&o.Reconnect, 2*time.Second)
	def(&o.KeepAlive, 30*time.Second)
	if o.Faults == nil {
		o.Faults = NewFaults()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

func run(ctx context.Context, m *model, opts Options, quirks bool) error {
	if err := opts.validate(); err != nil {
		return err
	}
	opts.withDefaults(m.gateway.sn)
	c, err := loadClip(clipH264, ClipFPS)
	if err != nil {
		return err
	}
	g := &gateway{
		m: m, opts: opts, quirks: quirks, faults: opts.Faults, clip: c, ctx: ctx,
		log:      opts.Logger.With("device", m.name, "sn", m.gateway.sn),
		sessions: map[*camera]*session{},
	}
	defer g.stopAll()
	g.log.Info("simulating", "aircraft", m.aircraft.sn, "video_ids", m.videoIDs(), "broker", redactURL(opts.Broker),
		"mqtt_version", opts.MQTTVersion, "stream_quirks", quirks)
	for {
		offline, connected, err := g.connection(ctx)
		if ctx.Err() != nil {
			g.log.Info("simulation stopped")
			return nil
		}
		if connected {
			g.note(Note{Kind: NoteDisconnected})
			g.log.Warn("MQTT connection lost", "err", err, "reconnect_in", offline)
		} else {
			g.log.Warn("MQTT connection failed", "err", err, "retry_in", offline)
		}
		if !sleepCtx(ctx, offline) {
			g.log.Info("simulation stopped")
			return nil
		}
	}
}

// errDropped is an injected MQTT drop.
var errDropped = errors.New("dropped on purpose (fault injection)")

// connection runs one MQTT connection from connect to loss. It returns how
// long to stay offline before the next attempt, whether it got connected,
// and why it ended.
func (g *gateway) connection(ctx context.Context) (offline time.Duration, connected bool, err error) {
	gw := g.m.gateway.sn
	conn, err := dialMQTT(ctx, mqttConfig{
		broker: g.opts.Broker, version: byte(g.opts.MQTTVersion), clientID: g.opts.ClientID,
		username: g.opts.Username, password: g.opts.Password, keepAlive: g.opts.KeepAlive,
	}, g.onMessage)
	if err != nil {
		return g.opts.Reconnect, false, err
	}
	err = conn.subscribe(ctx, topicStatusReply(gw), topicServices(gw), topicEventsReply(gw),
		topicRequestsReply(gw), topicPropertySet(gw))
	if err != nil {
		conn.drop()
		return g.opts.Reconnect, false, err
	}
	g.mu.Lock()
	g.conn, g.topoAck = conn, false
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.conn = nil
		g.mu.Unlock()
	}()
	g.log.Info("MQTT connected", "broker", redactURL(g.opts.Broker), "mqtt_version", g.opts.MQTTVersion)
	g.note(Note{Kind: NoteConnected})

	// What a device sends on connect: topology, then its on-change state.
	g.sendTopo()
	g.sendState()
	if g.m.config {
		g.publish(topicRequests(gw), newMessage("config", gw,
			map[string]any{"config_type": "json", "config_scope": "product"}))
	}
	g.sendOSD()

	osd := time.NewTicker(g.opts.OSDInterval)
	defer osd.Stop()
	topo := time.NewTicker(g.opts.TopoRetry)
	defer topo.Stop()
	var events <-chan time.Time
	if g.opts.EventInterval > 0 {
		t := time.NewTicker(g.opts.EventInterval)
		defer t.Stop()
		events = t.C
	}
	for {
		select {
		case <-ctx.Done():
			conn.disconnect()
			return 0, true, ctx.Err()
		case <-conn.done:
			return g.opts.Reconnect, true, conn.err
		case <-osd.C:
			g.sendOSD()
		case <-topo.C:
			g.mu.Lock()
			acked := g.topoAck
			g.mu.Unlock()
			if !acked {
				g.log.Info("no status_reply yet: re-sending update_topo")
				g.sendTopo()
			}
		case <-events:
			g.sendEvent()
		case d := <-g.faults.drop:
			g.log.Warn("fault: dropping the MQTT connection", "offline_for", d)
			conn.drop()
			return d, true, errDropped
		case d := <-g.faults.gap:
			g.mediaGap(d)
		}
	}
}

// publish sends msg at QoS 1 on the current connection; a device that is
// offline loses what it would have sent.
func (g *gateway) publish(topic string, msg outgoing) { g.send(topic, msg, 1) }

func (g *gateway) send(topic string, msg outgoing, qos byte) {
	b, err := json.Marshal(msg)
	if err != nil {
		g.log.Error("encoding message", "topic", topic, "err", err)
		return
	}
	g.mu.Lock()
	conn := g.conn
	g.mu.Unlock()
	if conn == nil {
		g.log.Debug("offline: not sent", "topic", topic)
		return
	}
	if err := conn.publish(topic, b, qos); err != nil {
		g.log.Warn("publish failed", "topic", topic, "err", err)
	}
}

func (g *gateway) note(n Note) {
	if g.opts.OnNote != nil {
		n.Gateway = g.m.gateway.sn
		g.opts.OnNote(n)
	}
}

func (g *gateway) sendTopo() {
	gw := g.m.gateway.sn
	g.publish(topicStatus(gw), newMessage("update_topo", "", g.m.updateTopo()))
}

// sendState publishes what a device sends once on connect and then on
// change: firmware versions, live_capacity, live_status, each in its own
// state message as in the real capture.
func (g *gateway) sendState() {
	gw, ac := g.m.gateway, g.m.aircraft
	g.publish(topicState(gw.sn), newMessage("", gw.sn, map[string]any{"firmware_version": gw.firmware}))
	g.publish(topicState(ac.sn), newMessage("", gw.sn, map[string]any{"firmware_version": ac.firmware}))
	g.sendCapacity()
	g.sendLiveStatus()
}

func (g *gateway) sendCapacity() {
	gw := g.m.gateway.sn
	g.mu.Lock()
	c := g.m.capacity()
	g.mu.Unlock()
	g.publish(topicState(gw), newMessage("", gw, map[string]any{"live_capacity": c}))
}

func (g *gateway) sendLiveStatus() {
	gw := g.m.gateway.sn
	g.mu.Lock()
	list := make([]liveStatus, 0, len(g.status))
	for _, e := range g.status {
		list = append(list, *e)
	}
	g.mu.Unlock()
	g.publish(topicState(gw), newMessage("", gw, map[string]any{"live_status": list}))
}

func (g *gateway) sendOSD() {
	gwData, acData := g.m.osd(time.Now())
	gw := g.m.gateway.sn
	// osd is periodic: QoS 0, losing one costs nothing.
	g.send(topicOSD(gw), newMessage("", gw, gwData), 0)
	g.send(topicOSD(g.m.aircraft.sn), newMessage("", gw, acData), 0)
}

// sendEvent publishes an hms (health) event with a harmless notice. Every
// third one asks for a reply, which real hms events don't: it keeps the
// cloud's events_reply path exercised.
func (g *gateway) sendEvent() {
	g.mu.Lock()
	g.events++
	n := g.events
	g.mu.Unlock()
	gw := g.m.gateway.sn
	msg := newMessage("hms", gw, map[string]any{"list": []map[string]any{{
		"code": "0x16100001", "level": 0, "module": 3, "in_the_sky": 0, "imminent": 0,
		"device_type": modelKey(g.m.aircraft),
		"args":        map[string]any{"component_index": 0, "sensor_index": 0},
	}}})
	need := 0
	if n%3 == 0 {
		need = 1
	}
	msg.NeedReply = &need
	g.publish(topicEvents(gw), msg)
}

// capacity builds live_capacity from the cameras' current lenses.
func (m *model) capacity() capacity {
	c := capacity{Available: m.available, CoexistMax: m.coexistMax}
	for _, d := range []device{m.gateway, m.aircraft} {
		cd := capacityDevice{SN: d.sn, Available: d.availableVids, CoexistMax: d.coexistVids, Cameras: []capacityCamera{}}
		for _, cam := range m.cameras {
			if cam.owner != d.sn {
				continue
			}
			cd.Cameras = append(cd.Cameras, capacityCamera{Index: cam.index, Available: 1, CoexistMax: 1,
				Videos: []capacityVideo{{Index: cam.videoIndex, Type: cam.lens, Switchable: cam.switchable}}})
		}
		if len(cd.Cameras) > 0 {
			c.Devices = append(c.Devices, cd)
		}
	}
	return c
}

// onMessage handles what the broker delivers. It runs on the MQTT reading
// goroutine, so anything slow goes to a goroutine of its own.
func (g *gateway) onMessage(topic string, payload []byte) {
	gw := g.m.gateway.sn
	var env envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		g.log.Warn("ignoring a message that is not JSON", "topic", topic, "err", err)
		return
	}
	switch topic {
	case topicStatusReply(gw):
		var r result
		_ = json.Unmarshal(env.Data, &r)
		g.log.Info("status_reply", "method", env.Method, "result", r.Result)
		if r.Result == 0 {
			g.mu.Lock()
			first := !g.topoAck
			g.topoAck = true
			g.mu.Unlock()
			if first {
				g.note(Note{Kind: NoteTopoAcked})
			}
		}
	case topicServices(gw):
		go g.handleService(env)
	case topicEventsReply(gw):
		g.log.Debug("events_reply", "method", env.Method, "tid", env.TID)
		g.note(Note{Kind: NoteEventReplied, Method: env.Method})
	case topicRequestsReply(gw):
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(env.Data, &fields)
		// Field names only: a config reply holds the app key and license.
		g.log.Info("requests_reply", "method", env.Method, "fields", slices.Sorted(maps.Keys(fields)))
		if env.Method == "config" {
			g.note(Note{Kind: NoteConfigReply})
		}
	case topicPropertySet(gw):
		var props map[string]json.RawMessage
		_ = json.Unmarshal(env.Data, &props)
		out := map[string]any{}
		for k := range props {
			out[k] = result{}
		}
		g.log.Info("property/set", "properties", len(props))
		g.publish(topicPropertySetReply(gw), reply(env, out))
	}
}

// handleService runs one services command and replies to it, with any
// injected delay or silence.
func (g *gateway) handleService(req envelope) {
	log := g.log.With("method", req.Method, "tid", req.TID, "bid", req.BID)
	if g.faults.takeNoReply() {
		log.Warn("fault: ignoring services command")
		g.note(Note{Kind: NoteIgnored, Method: req.Method})
		return
	}
	g.svcMu.Lock()
	res := g.service(req, log)
	g.svcMu.Unlock()
	if d := g.faults.delay(); d > 0 {
		log.Warn("fault: delaying services_reply", "delay", d)
		if !sleepCtx(g.ctx, d) {
			return
		}
	}
	g.publish(topicServicesReply(g.m.gateway.sn), reply(req, res))
	log.Info("services_reply", "result", res.Result)
	g.note(Note{Kind: NoteService, Method: req.Method, Result: res.Result})
}
