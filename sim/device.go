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

	"github.com/skyrelay/skyrelay/conf"
)

// Options are the settings common to every simulated device (dock or remote controller). Only Broker
// is required.
type Options struct {
	Broker      string // MQTT broker: tcp://host:port (or mqtt://), tls://host:port (or ssl://, mqtts://); may hold user:password@
	MQTTVersion int    // 4 (MQTT 3.1.1, the default) or 5
	Username    string
	Password    string
	ClientID    string // default: the device SN

	OSDInterval   time.Duration // osd period for the device and its aircraft; default 2 s
	TopoRetry     time.Duration // update_topo is re-sent this often until status_reply; default 5 s
	EventInterval time.Duration // hms events this often (every third asks for a reply); default 30 s, negative: never
	Reconnect     time.Duration // wait before reconnecting a lost MQTT connection; default 2 s
	KeepAlive     time.Duration // MQTT keepalive; default 30 s
	// FlightID, when set, makes the device report a flight task with this
	// id running: flighttask_progress with every osd (sim/flight.go).
	FlightID string

	// RTSPListen, when set, is where a url_type 2 push runs its RTSP server
	// instead of the port the cloud names (tests: "127.0.0.1:0").
	// RTSPHost is the address put into the reply's URL; default the
	// listen host, or the machine's first non-loopback IPv4 address when
	// the server listens on every interface.
	RTSPListen, RTSPHost string
	// RTSPReplyInfo replies the RTSP URL in data.info, as Pilot builds
	// before the 2024 SDK did, instead of data.output.
	RTSPReplyInfo bool

	// Faults, if set, lets the caller inject failures while the device runs
	// (NewFaults). One Faults belongs to one device.
	Faults *Faults
	// Logger receives the device's log; default slog.Default().
	Logger *slog.Logger
	// OnNote, if set, is told what the device does (for tests and tools);
	// it is called synchronously and must not block.
	OnNote func(Note)
}

// Note is one thing a simulated device did or saw.
type Note struct {
	Device  string // SN of the dock or remote controller
	Kind    string // one of the Note* kinds
	Method  string // services method, for NoteService
	VideoID string // for push notes
	Result  int    // services_reply result, or error_status for NotePushHealth
	Topic   string // the topic of a reply received (NoteEventReplied)
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

// device is a running simulated dock or remote controller: the DJI device
// that holds the MQTT connection (DJI calls it the gateway device).
type device struct {
	m      *model
	opts   Options
	quirks bool
	log    *slog.Logger
	faults *Faults
	clip   *clip
	ctx    context.Context // Run's context

	svcMu sync.Mutex // one services command at a time, like a device

	mu         sync.Mutex // guards what follows
	conn       *mqttConn
	topoAck    bool
	sessions   map[*camera]*session
	status     []*liveStatus // live_status entries, in order of first start
	events     int
	flightStep int // flighttask_progress messages sent
	osdTurn    int // the next osd fragment
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

func (o *Options) withDefaults(deviceSN string) {
	if o.MQTTVersion == 0 {
		o.MQTTVersion = 4
	}
	if o.ClientID == "" {
		o.ClientID = deviceSN
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
	opts.withDefaults(m.device.sn)
	c, err := loadClip(clipH264, ClipFPS)
	if err != nil {
		return err
	}
	dev := &device{
		m: m, opts: opts, quirks: quirks, faults: opts.Faults, clip: c, ctx: ctx,
		log:      opts.Logger.With("device", m.name, "sn", m.device.sn),
		sessions: map[*camera]*session{},
	}
	defer dev.stopAll()
	dev.log.Info("simulating", "aircraft", m.aircraft.sn, "video_ids", m.videoIDs(), "broker", conf.RedactURL(opts.Broker),
		"mqtt_version", opts.MQTTVersion, "stream_quirks", quirks)
	for {
		offline, connected, err := dev.connection(ctx)
		if ctx.Err() != nil {
			dev.log.Info("simulation stopped")
			return nil
		}
		if connected {
			dev.note(Note{Kind: NoteDisconnected})
			dev.log.Warn("MQTT connection lost", "err", err, "reconnect_in", offline)
		} else {
			dev.log.Warn("MQTT connection failed", "err", err, "retry_in", offline)
		}
		if !sleepCtx(ctx, offline) {
			dev.log.Info("simulation stopped")
			return nil
		}
	}
}

// errDropped is an injected MQTT drop.
var errDropped = errors.New("dropped on purpose (fault injection)")

// connection runs one MQTT connection from connect to loss. It returns how
// long to stay offline before the next attempt, whether it got connected,
// and why it ended.
func (dev *device) connection(ctx context.Context) (offline time.Duration, connected bool, err error) {
	sn := dev.m.device.sn
	conn, err := dialMQTT(ctx, mqttConfig{
		broker: dev.opts.Broker, version: byte(dev.opts.MQTTVersion), clientID: dev.opts.ClientID,
		username: dev.opts.Username, password: dev.opts.Password, keepAlive: dev.opts.KeepAlive,
	}, dev.onMessage)
	if err != nil {
		return dev.opts.Reconnect, false, err
	}
	err = conn.subscribe(ctx, topicStatusReply(sn), topicServices(sn), topicEventsReply(sn),
		topicEventsReply(dev.m.aircraft.sn), topicRequestsReply(sn), topicPropertySet(sn))
	if err != nil {
		conn.drop()
		return dev.opts.Reconnect, false, err
	}
	dev.mu.Lock()
	dev.conn, dev.topoAck = conn, false
	dev.mu.Unlock()
	defer func() {
		dev.mu.Lock()
		dev.conn = nil
		dev.mu.Unlock()
	}()
	dev.log.Info("MQTT connected", "broker", conf.RedactURL(dev.opts.Broker), "mqtt_version", dev.opts.MQTTVersion)
	dev.note(Note{Kind: NoteConnected})

	// What a device sends on connect: topology, then its on-change state.
	dev.sendTopo()
	dev.sendState()
	if dev.m.config {
		dev.publish(topicRequests(sn), newMessage("config", sn,
			map[string]any{"config_type": "json", "config_scope": "product"}))
	}
	dev.sendOSD()

	osd := time.NewTicker(dev.opts.OSDInterval)
	defer osd.Stop()
	topo := time.NewTicker(dev.opts.TopoRetry)
	defer topo.Stop()
	var events <-chan time.Time
	if dev.opts.EventInterval > 0 {
		t := time.NewTicker(dev.opts.EventInterval)
		defer t.Stop()
		events = t.C
	}
	for {
		select {
		case <-ctx.Done():
			conn.disconnect()
			return 0, true, ctx.Err()
		case <-conn.done:
			return dev.opts.Reconnect, true, conn.err
		case <-osd.C:
			dev.sendOSD()
			if dev.opts.FlightID != "" {
				dev.sendFlightProgress()
			}
		case <-topo.C:
			dev.mu.Lock()
			acked := dev.topoAck
			dev.mu.Unlock()
			if !acked {
				dev.log.Info("no status_reply yet: re-sending update_topo")
				dev.sendTopo()
			}
		case <-events:
			dev.sendEvent()
		case d := <-dev.faults.drop:
			dev.log.Warn("fault: dropping the MQTT connection", "offline_for", d)
			conn.drop()
			return d, true, errDropped
		case d := <-dev.faults.gap:
			dev.mediaGap(d)
		case code := <-dev.faults.end:
			dev.endPushes(code)
		}
	}
}

// publish sends msg at QoS 1 on the current connection; a device that is
// offline loses what it would have sent.
func (dev *device) publish(topic string, msg outgoing) { dev.send(topic, msg, 1) }

func (dev *device) send(topic string, msg outgoing, qos byte) {
	b, err := json.Marshal(msg)
	if err != nil {
		dev.log.Error("encoding message", "topic", topic, "err", err)
		return
	}
	dev.mu.Lock()
	conn := dev.conn
	dev.mu.Unlock()
	if conn == nil {
		dev.log.Debug("offline: not sent", "topic", topic)
		return
	}
	if err := conn.publish(topic, b, qos); err != nil {
		dev.log.Warn("publish failed", "topic", topic, "err", err)
	}
}

func (dev *device) note(n Note) {
	if dev.opts.OnNote != nil {
		n.Device = dev.m.device.sn
		dev.opts.OnNote(n)
	}
}

func (dev *device) sendTopo() {
	sn := dev.m.device.sn
	dev.publish(topicStatus(sn), newMessage("update_topo", "", dev.m.updateTopo()))
}

// sendState publishes what a device sends once on connect and then on
// change: firmware versions, live_capacity, live_status, each in its own
// state message as in the real capture.
func (dev *device) sendState() {
	sn, ac := dev.m.device, dev.m.aircraft
	dev.publish(topicState(sn.sn), newMessage("", sn.sn, map[string]any{"firmware_version": sn.firmware}))
	dev.publish(topicState(ac.sn), newMessage("", sn.sn, map[string]any{"firmware_version": ac.firmware}))
	dev.sendCapacity()
	dev.sendLiveStatus()
}

func (dev *device) sendCapacity() {
	sn := dev.m.device.sn
	dev.mu.Lock()
	c := dev.m.capacity()
	dev.mu.Unlock()
	dev.publish(topicState(sn), newMessage("", sn, map[string]any{"live_capacity": c}))
}

func (dev *device) sendLiveStatus() {
	sn := dev.m.device.sn
	dev.mu.Lock()
	list := make([]liveStatus, 0, len(dev.status))
	for _, e := range dev.status {
		list = append(list, *e)
	}
	dev.mu.Unlock()
	dev.publish(topicState(sn), newMessage("", sn, map[string]any{"live_status": list}))
}

func (dev *device) sendOSD() {
	devData, acData := dev.m.osd(time.Now())
	sn := dev.m.device.sn
	if f := dev.m.osdFragments; f != nil {
		dev.mu.Lock()
		keys := f[dev.osdTurn%len(f)]
		dev.osdTurn++
		dev.mu.Unlock()
		part := make(map[string]any, len(keys))
		for _, k := range keys {
			part[k] = devData[k]
		}
		devData = part
	}
	// osd is periodic: QoS 0, losing one costs nothing.
	dev.send(topicOSD(sn), newMessage("", sn, devData), 0)
	dev.send(topicOSD(dev.m.aircraft.sn), newMessage("", sn, acData), 0)
}

// sendEvent publishes an hms (health) event with a harmless notice. Every
// third one asks for a reply, which real hms events don't: it keeps the
// cloud's events_reply path exercised.
func (dev *device) sendEvent() {
	dev.mu.Lock()
	dev.events++
	n := dev.events
	dev.mu.Unlock()
	sn := dev.m.device.sn
	msg := newMessage("hms", sn, map[string]any{"list": []map[string]any{{
		"code": "0x16100001", "level": 0, "module": 3, "in_the_sky": 0, "imminent": 0,
		"device_type": modelKey(dev.m.aircraft),
		"args":        map[string]any{"component_index": 0, "sensor_index": 0},
	}}})
	need := 0
	if n%3 == 0 {
		need = 1
	}
	msg.NeedReply = &need
	dev.publish(topicEvents(sn), msg)
	if dev.m.forwardsAircraftEvents {
		// The aircraft's own health, forwarded on its topic.
		ac := newMessage("hms", sn, map[string]any{"list": []map[string]any{{
			"code": "0x1B010001", "level": 0, "module": 3, "in_the_sky": 0, "imminent": 0,
			"device_type": modelKey(dev.m.aircraft),
			"args":        map[string]any{"component_index": 0, "sensor_index": 0},
		}}})
		ac.NeedReply = &need
		dev.publish(topicEvents(dev.m.aircraft.sn), ac)
	}
}

// capacity builds live_capacity from the cameras' current lenses.
func (m *model) capacity() capacity {
	c := capacity{Available: m.available, CoexistMax: m.coexistMax}
	for _, d := range []node{m.device, m.aircraft} {
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
func (dev *device) onMessage(topic string, payload []byte) {
	sn := dev.m.device.sn
	var env envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		dev.log.Warn("ignoring a message that is not JSON", "topic", topic, "err", err)
		return
	}
	switch topic {
	case topicStatusReply(sn):
		var r result
		_ = json.Unmarshal(env.Data, &r)
		dev.log.Info("status_reply", "method", env.Method, "result", r.Result)
		if r.Result == 0 {
			dev.mu.Lock()
			first := !dev.topoAck
			dev.topoAck = true
			dev.mu.Unlock()
			if first {
				dev.note(Note{Kind: NoteTopoAcked})
			}
		}
	case topicServices(sn):
		go dev.handleService(env)
	case topicEventsReply(sn), topicEventsReply(dev.m.aircraft.sn):
		dev.log.Debug("events_reply", "method", env.Method, "tid", env.TID)
		dev.note(Note{Kind: NoteEventReplied, Method: env.Method, Topic: topic})
	case topicRequestsReply(sn):
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(env.Data, &fields)
		// Field names only: a config reply holds the app key and license.
		dev.log.Info("requests_reply", "method", env.Method, "fields", slices.Sorted(maps.Keys(fields)))
		if env.Method == "config" {
			dev.note(Note{Kind: NoteConfigReply})
		}
	case topicPropertySet(sn):
		var props map[string]json.RawMessage
		_ = json.Unmarshal(env.Data, &props)
		out := map[string]any{}
		for k := range props {
			out[k] = result{}
		}
		dev.log.Info("property/set", "properties", len(props))
		dev.publish(topicPropertySetReply(sn), reply(env, out))
	}
}

// handleService runs one services command and replies to it, with any
// injected delay or silence.
func (dev *device) handleService(req envelope) {
	log := dev.log.With("method", req.Method, "tid", req.TID, "bid", req.BID)
	if dev.faults.takeNoReply() {
		log.Warn("fault: ignoring services command")
		dev.note(Note{Kind: NoteIgnored, Method: req.Method})
		return
	}
	dev.svcMu.Lock()
	res := dev.service(req, log)
	dev.svcMu.Unlock()
	if d := dev.faults.delay(); d > 0 {
		log.Warn("fault: delaying services_reply", "delay", d)
		if !sleepCtx(dev.ctx, d) {
			return
		}
	}
	dev.publish(topicServicesReply(dev.m.device.sn), reply(req, res))
	log.Info("services_reply", "result", res.Result)
	dev.note(Note{Kind: NoteService, Method: req.Method, Result: res.Result})
}
