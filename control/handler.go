package control

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// onMessage handles one device message. It runs on the broker's goroutine
// of the device's connection (embedded) or on a worker of the client
// (external), concurrently for different devices.
func (p *Plane) onMessage(topic string, payload []byte) { inbox{p}.handle(topic, payload) }

// inbox handles what devices send: it records it in the registry, answers
// what needs an answer, hands replies to the commands waiting for them and
// tells the sessions what concerns them.
//
// Every topic kind may carry the SN of a sub-device: a dock forwards some
// messages of its aircraft on the aircraft's own topics, with the dock in
// the "gateway" field. The registry places the SN (registry.touchLocked);
// answers go back on the topic the message came on, plus "_reply".
type inbox struct{ *Plane }

// message is one device message, parsed once.
type message struct {
	topic string
	sn    string // the SN of the topic
	e     *cloudapi.Envelope
	now   time.Time
}

func (p inbox) handle(topic string, payload []byte) {
	sn, kind := cloudapi.ParseTopic(topic)
	p.met.message(kind)
	if kind == cloudapi.KindUnknown {
		return
	}
	e, err := cloudapi.Parse(payload)
	if err != nil {
		p.malformed(topic, err)
		return
	}
	m := message{topic: topic, sn: sn, e: e, now: time.Now()}
	switch kind {
	case cloudapi.KindStatus:
		p.onStatus(m)
	case cloudapi.KindOSD:
		p.onOSD(m)
	case cloudapi.KindState:
		p.onState(m)
	case cloudapi.KindServicesReply:
		p.onServicesReply(m)
	case cloudapi.KindEvents:
		p.onEvents(m)
	case cloudapi.KindRequests:
		p.onRequests(m)
	case cloudapi.KindPropertySetReply:
		dev := p.touch(m)
		p.events.publish(Event{Type: EventPropertySetReply, SN: sn, Gateway: dev, Data: e.Data})
	case cloudapi.KindDRCUp:
		dev := p.touch(m)
		// osd_info_push and friends arrive at up to 10 Hz; only replies go
		// to the event stream.
		if !strings.HasSuffix(e.Method, "_push") {
			p.events.publish(Event{Type: EventDRC, SN: sn, Gateway: dev, Data: map[string]any{"method": e.Method, "data": e.Data}})
		}
	}
}

// malformedLogEvery spaces the Info lines about malformed messages: a
// device sending garbage at 10 Hz must not flood the log (every one is
// counted, and logged at Debug).
const malformedLogEvery = 10 * time.Second

// malformed counts and logs a message that is skipped: the topic it came
// on and what was wrong with it.
func (p inbox) malformed(topic string, err error) {
	p.met.malformed.Inc()
	now := time.Now().UnixNano()
	last := p.malformedLogged.Load()
	if now-last >= int64(malformedLogEvery) && p.malformedLogged.CompareAndSwap(last, now) {
		p.log.Info("malformed device message ignored (further ones for a while at debug level)", "topic", topic, "error", err)
		return
	}
	p.log.Debug("malformed device message ignored", "topic", topic, "error", err)
}

// send publishes a reply without waiting (see broker.Bus.Send).
// In a cluster the node the shared subscription picked answers instead.
func (p inbox) send(topic string, payload []byte) {
	if !p.sharedReplies {
		p.bus.Send(topic, payload)
	}
}

// reply answers m on its topic plus "_reply", echoing tid, bid and method.
func (p inbox) reply(m message, method string, data any) {
	p.send(m.topic+"_reply", cloudapi.Reply(m.e, method, data))
}

// touch records a message that carries nothing to keep and returns the
// device holding the connection.
func (p inbox) touch(m message) string {
	dev, cameOnline := p.reg.touch(m.sn, m.e.Gateway, m.now)
	if cameOnline {
		p.online(dev)
	}
	return dev
}

func (p inbox) online(gw string) {
	p.log.Info("device online", "gateway", gw)
	p.events.publish(Event{Type: EventDeviceOnline, SN: gw, Gateway: gw})
}

// onStatus answers update_topo (always: the device re-sends until it gets a
// reply) and records the topology.
func (p inbox) onStatus(m message) {
	gw, e := m.sn, m.e
	method := e.Method
	if method == "" {
		method = "update_topo"
	}
	p.reply(m, method, map[string]any{"result": 0})
	if method != "update_topo" {
		p.touch(m)
		return
	}
	t, err := parseTopo(e.Data)
	if err != nil {
		p.malformed(m.topic, err)
		p.touch(m)
		return
	}
	tc, added, removed := p.reg.applyTopo(gw, t, m.now)
	if tc.cameOnline {
		p.online(gw)
	}
	if len(added)+len(removed) > 0 {
		p.log.Info("topology changed", "gateway", gw, "online", added, "offline", removed)
		p.events.publish(Event{Type: EventTopology, SN: gw, Gateway: gw, Data: map[string]any{"online": added, "offline": removed}})
	}
}

// onOSD merges an osd key by key. The legacy (v1.1) live_status sits in
// the osd of the device holding the connection. A malformed osd (data not
// an object, a live_status of the wrong types) changes nothing.
func (p inbox) onOSD(m message) {
	var buf [48]cloudapi.Member // a dock's osd has about 40 keys
	members, ok := cloudapi.AppendMembers(buf[:0], m.e.Data)
	if !ok && len(m.e.Data) > 0 {
		p.malformed(m.topic, errNotObject(m.e.Data))
		p.reg.liveness(m.sn, m.e.Gateway, m.now)
		return
	}
	var legacyRaw json.RawMessage
	var legacy []LiveStatus
	for _, x := range members {
		if string(x.Key) == "live_status" {
			legacyRaw = x.Value
		}
	}
	if legacyRaw != nil {
		list, _, err := parseLiveStatus(legacyRaw)
		if err != nil {
			p.malformed(m.topic, err)
			p.reg.liveness(m.sn, m.e.Gateway, m.now)
			return
		}
		legacy = list
	}
	r := p.reg.applyOSD(m.sn, m.e.Gateway, members, legacyRaw, legacy, m.now)
	p.recordOSD(m.sn, m.now, m.e.Data)
	p.publishOSD(m.sn, r.dev, m.now)
	if r.cameOnline {
		p.online(r.dev)
	}
	if len(r.changed) > 0 {
		p.events.publish(Event{Type: EventState, SN: m.sn, Gateway: r.dev, Data: map[string]any{"live_status": r.changed}})
		p.onLiveStatus(r.dev, r.changed)
	}
}

// stateRefused is the state_reply result of a state message that was not
// applied (malformed): the device gets an answer, so it stops re-sending.
const stateRefused = 1

// onState merges a state message (only changed keys arrive), applies
// live_capacity and live_status, and answers need_reply every time while
// applying a repeated tid once. A message with any part malformed is
// refused whole: the stored state stays exactly as it was.
func (p inbox) onState(m message) {
	e := m.e
	u := stateUpdate{sn: m.sn, hint: e.Gateway, tid: e.TID}
	d, err := e.Object()
	if err == nil {
		u.data = d
		err = u.parse()
	}
	if err != nil {
		p.malformed(m.topic, err)
		if e.NeedReply {
			p.reply(m, e.Method, map[string]any{"result": stateRefused})
		}
		if dev, cameOnline := p.reg.liveness(m.sn, e.Gateway, m.now); cameOnline {
			p.online(dev)
		}
		return
	}
	if e.NeedReply {
		p.reply(m, e.Method, map[string]any{"result": 0})
	}
	r := p.reg.applyState(u, m.now)
	if r.dup {
		return
	}
	if r.cameOnline {
		p.online(r.dev)
	}
	if len(r.changedKeys) > 0 && p.events.active() {
		values := make(map[string]json.RawMessage, len(r.changedKeys))
		for _, k := range r.changedKeys {
			values[k] = d[k]
		}
		data := map[string]any{"changed": values}
		if u.hasStatus {
			data["live_status_decoded"] = u.statuses
		}
		if u.capacity != nil {
			data["cameras"] = u.cameras
		}
		p.events.publish(Event{Type: EventState, SN: m.sn, Gateway: r.dev, Data: data})
	}
	if len(r.gone) > 0 {
		p.onCamerasGone(r.dev, r.gone)
	}
	if len(r.liveChanged) > 0 {
		p.onLiveStatus(r.dev, r.liveChanged)
	}
}

// parse reads live_capacity and live_status, outside the registry's lock.
func (u *stateUpdate) parse() error {
	var err error
	if capRaw, ok := u.data["live_capacity"]; ok {
		if u.cameras, u.limits, err = parseCapacity(capRaw); err != nil {
			return err
		}
		u.capacity = capRaw
	}
	if lsRaw, ok := u.data["live_status"]; ok {
		if u.statuses, _, err = parseLiveStatus(lsRaw); err != nil {
			return err
		}
		u.hasStatus = true
	}
	return nil
}

// onServicesReply hands a command's reply to the command waiting for it.
// A reply whose result is not a number is malformed, never a success.
func (p inbox) onServicesReply(m message) {
	dev := p.touch(m)
	r := parseReply(m.e)
	if r.Malformed != nil {
		p.malformed(m.topic, r.Malformed)
	}
	resolved := p.cmds.resolve(m.e.TID, m.e.BID, r)
	if p.events.active() {
		data := map[string]any{"method": m.e.Method, "tid": m.e.TID, "bid": m.e.BID, "result": r.Result, "awaited": resolved}
		if r.Malformed != nil {
			data["malformed"] = r.Malformed.Error()
		}
		p.events.publish(Event{Type: EventServicesReply, SN: m.sn, Gateway: dev, Data: data})
	}
}

// onEvents forwards a device event once and answers need_reply every time.
func (p inbox) onEvents(m message) {
	e := m.e
	if e.NeedReply {
		p.reply(m, e.Method, map[string]any{"result": 0})
	}
	dev, cameOnline, dup := p.reg.touchEvent(m.sn, e.Gateway, e.TID, m.now)
	if cameOnline {
		p.online(dev)
	}
	if !dup && e.Method == methodFlightProgress {
		p.onFlightProgress(dev, e.BID, e.Data)
	}
	if !dup {
		p.events.publish(Event{Type: EventDeviceEvent, SN: m.sn, Gateway: dev, Data: map[string]any{"method": e.Method, "bid": e.BID, "data": e.Data}})
	}
}

// onRequests answers a device's request.
func (p inbox) onRequests(m message) {
	e := m.e
	dev := p.touch(m)
	if _, err := e.Object(); err != nil {
		// Still answered below: a device waits ~40 s for a request that
		// gets no reply (docs/field-quirks.md).
		p.malformed(m.topic, err)
	}
	data, served := p.answerRequest(dev, e)
	p.reply(m, e.Method, data)
	ev := map[string]any{"method": e.Method, "served": served}
	if why, ok := refusedRequests[e.Method]; ok {
		ev["refused"] = why
		p.log.Debug("device request refused", "gateway", dev, "sn", m.sn, "method", e.Method, "reason", why)
	} else if !served {
		p.log.Info("device request not served; answered with a failure", "gateway", dev, "sn", m.sn, "method", e.Method, "result", unservedResult)
	}
	p.events.publish(Event{Type: EventRequest, SN: m.sn, Gateway: dev, Data: ev})
}

// errNotObject says a message's data is not the object it must be.
func errNotObject(v json.RawMessage) error {
	return fmt.Errorf("%w: data is %s, not an object", cloudapi.ErrMalformed, jsonKind(v))
}
