package control

import (
	"bytes"
	"encoding/json"
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
type inbox struct{ *Plane }

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
	now := time.Now()
	switch kind {
	case cloudapi.KindStatus:
		p.onStatus(sn, e, now)
	case cloudapi.KindOSD:
		p.onOSD(sn, e, now)
	case cloudapi.KindState:
		p.onState(sn, e, now)
	case cloudapi.KindServicesReply:
		p.touch(sn, now)
		r := parseReply(e)
		resolved := p.cmds.resolve(e.TID, e.BID, r)
		if p.events.active() {
			p.events.publish(Event{Type: EventServicesReply, SN: sn, Gateway: sn, Data: map[string]any{
				"method": e.Method, "tid": e.TID, "bid": e.BID, "result": r.Result, "awaited": resolved}})
		}
	case cloudapi.KindEvents:
		p.onEvents(sn, e, now)
	case cloudapi.KindRequests:
		p.onRequests(sn, e, now)
	case cloudapi.KindPropertySetReply:
		p.touch(sn, now)
		p.events.publish(Event{Type: EventPropertySetReply, SN: sn, Gateway: sn, Data: e.Data})
	case cloudapi.KindDRCUp:
		p.touch(sn, now)
		// osd_info_push and friends arrive at up to 10 Hz; only replies go
		// to the event stream.
		if !strings.HasSuffix(e.Method, "_push") {
			p.events.publish(Event{Type: EventDRC, SN: sn, Gateway: sn, Data: map[string]any{"method": e.Method, "data": e.Data}})
		}
	}
}

func (p inbox) malformed(topic string, err error) {
	p.met.malformed.Inc()
	p.log.Debug("malformed message ignored", "topic", topic, "error", err)
}

// send publishes a reply without waiting (see broker.Bus.Send).
func (p inbox) send(topic string, payload []byte) { p.bus.Send(topic, payload) }

// touch records a message on a topic of the device's own.
func (p inbox) touch(sn string, now time.Time) {
	if p.reg.touch(sn, now) {
		p.online(sn)
	}
}

func (p inbox) online(gw string) {
	p.log.Info("device online", "gateway", gw)
	p.events.publish(Event{Type: EventDeviceOnline, SN: gw, Gateway: gw})
}

// onStatus answers update_topo (always: the device re-sends until it gets a
// reply) and records the topology.
func (p inbox) onStatus(gw string, e *cloudapi.Envelope, now time.Time) {
	method := e.Method
	if method == "" {
		method = "update_topo"
	}
	p.send(cloudapi.TopicStatusReply(gw), cloudapi.Reply(e, method, map[string]any{"result": 0}))
	if method != "update_topo" {
		p.touch(gw, now)
		return
	}
	t, err := parseTopo(e.Data)
	if err != nil {
		p.malformed(cloudapi.TopicStatus(gw), err)
		p.touch(gw, now)
		return
	}
	tc, added, removed := p.reg.applyTopo(gw, t, now)
	if tc.cameOnline {
		p.online(gw)
	}
	if len(added)+len(removed) > 0 {
		p.log.Info("topology changed", "gateway", gw, "online", added, "offline", removed)
		p.events.publish(Event{Type: EventTopology, SN: gw, Gateway: gw, Data: map[string]any{"online": added, "offline": removed}})
	}
}

// onOSD keeps the last osd and liveness. The legacy (v1.1) live_status sits
// in the osd of the device holding the connection; it is parsed only when present and changed.
func (p inbox) onOSD(sn string, e *cloudapi.Envelope, now time.Time) {
	if len(e.Data) > 0 && !bytes.HasPrefix(bytes.TrimSpace(e.Data), []byte("{")) {
		p.malformed(cloudapi.TopicOSD(sn), cloudapi.ErrMalformed)
		return
	}
	var legacy json.RawMessage
	if bytes.Contains(e.Data, []byte(`"live_status"`)) {
		var d struct {
			LiveStatus json.RawMessage `json:"live_status"`
		}
		if json.Unmarshal(e.Data, &d) == nil {
			legacy = d.LiveStatus
		}
	}
	r := p.reg.applyOSD(sn, e.Gateway, e.Data, legacy, now)
	if r.cameOnline {
		p.online(r.dev)
	}
	if len(r.changed) > 0 {
		p.events.publish(Event{Type: EventState, SN: sn, Gateway: r.dev, Data: map[string]any{"live_status": r.changed}})
		p.onLiveStatus(r.dev, r.changed)
	}
}

// onState merges a state message (only changed keys arrive), applies
// live_capacity and live_status, and answers need_reply every time while
// applying a repeated tid once.
func (p inbox) onState(sn string, e *cloudapi.Envelope, now time.Time) {
	d, err := e.Object()
	if err != nil {
		p.malformed(cloudapi.TopicState(sn), err)
		return
	}
	if e.NeedReply {
		p.send(cloudapi.TopicStateReply(sn), cloudapi.Reply(e, e.Method, map[string]any{"result": 0}))
	}
	// Parsed here, outside the registry's lock; applied under it.
	u := stateUpdate{sn: sn, hint: e.Gateway, tid: e.TID, data: d}
	if capRaw, ok := d["live_capacity"]; ok {
		if u.cameras, err = parseCapacity(capRaw); err != nil {
			p.malformed(cloudapi.TopicState(sn), err)
		} else {
			u.capacity = capRaw
		}
	}
	if lsRaw, ok := d["live_status"]; ok {
		if u.statuses, _, err = parseLiveStatus(lsRaw); err != nil {
			p.malformed(cloudapi.TopicState(sn), err)
		} else {
			u.hasStatus = true
		}
	}
	r := p.reg.applyState(u, now)
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
		p.events.publish(Event{Type: EventState, SN: sn, Gateway: r.dev, Data: data})
	}
	if len(r.gone) > 0 {
		p.onCamerasGone(r.dev, r.gone)
	}
	if len(r.liveChanged) > 0 {
		p.onLiveStatus(r.dev, r.liveChanged)
	}
}

// onEvents forwards a device event once and answers need_reply every time.
func (p inbox) onEvents(gw string, e *cloudapi.Envelope, now time.Time) {
	if e.NeedReply {
		p.send(cloudapi.TopicEventsReply(gw), cloudapi.Reply(e, e.Method, map[string]any{"result": 0}))
	}
	cameOnline, dup := p.reg.touchEvent(gw, e.TID, now)
	if cameOnline {
		p.online(gw)
	}
	if !dup {
		p.events.publish(Event{Type: EventDeviceEvent, SN: gw, Gateway: gw, Data: map[string]any{"method": e.Method, "bid": e.BID, "data": e.Data}})
	}
}

// onRequests answers a device's request.
func (p inbox) onRequests(gw string, e *cloudapi.Envelope, now time.Time) {
	p.touch(gw, now)
	if _, err := e.Object(); err != nil {
		// Still answered below: a device waits ~40 s for a request that
		// gets no reply (docs/field-quirks.md).
		p.malformed(cloudapi.TopicRequests(gw), err)
	}
	data, served := p.answerRequest(gw, e)
	p.send(cloudapi.TopicRequestsReply(gw), cloudapi.Reply(e, e.Method, data))
	if !served {
		p.log.Info("device request not served; answered with a failure", "gateway", gw, "method", e.Method, "result", unservedResult)
	}
	p.events.publish(Event{Type: EventRequest, SN: gw, Gateway: gw, Data: map[string]any{"method": e.Method, "served": served}})
}
