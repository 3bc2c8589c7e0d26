package control

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// onMessage handles one device message. It runs on the broker's goroutine
// of the device's connection (embedded) or on a worker of the client
// (external), concurrently for different devices.
func (p *Plane) onMessage(topic string, payload []byte) {
	sn, kind := parseTopic(topic)
	p.met.message(kind)
	if kind == kindUnknown {
		return
	}
	e, err := parseEnvelope(payload)
	if err != nil {
		p.malformed(topic, err)
		return
	}
	now := time.Now()
	switch kind {
	case kindStatus:
		p.onStatus(sn, e, now)
	case kindOSD:
		p.onOSD(sn, e, now)
	case kindState:
		p.onState(sn, e, now)
	case kindServicesReply:
		p.touchGateway(sn, now)
		resolved := p.cmds.resolve(e)
		if p.hub.active() {
			r := parseReply(e)
			p.hub.publish(Event{Type: EventServicesReply, SN: sn, Gateway: sn, Data: map[string]any{
				"method": e.Method, "tid": e.TID, "bid": e.BID, "result": r.Result, "awaited": resolved}})
		}
	case kindEvents:
		p.onEvents(sn, e, now)
	case kindRequests:
		p.onRequests(sn, e, now)
	case kindPropertySetReply:
		p.touchGateway(sn, now)
		p.hub.publish(Event{Type: EventPropertySetReply, SN: sn, Gateway: sn, Data: e.Data})
	case kindDRCUp:
		p.touchGateway(sn, now)
		// osd_info_push and friends arrive at up to 10 Hz; only replies go
		// to the event stream.
		if !strings.HasSuffix(e.Method, "_push") {
			p.hub.publish(Event{Type: EventDRC, SN: sn, Gateway: sn, Data: map[string]any{"method": e.Method, "data": e.Data}})
		}
	}
}

func (p *Plane) malformed(topic string, err error) {
	p.met.malformed.Inc()
	p.log.Debug("malformed message ignored", "topic", topic, "error", err)
}

// send publishes a reply without waiting (see broker.Bus.Send).
func (p *Plane) send(topic string, payload []byte) { p.bus.Send(topic, payload) }

// touchGateway records a message on a topic keyed by the gateway SN.
func (p *Plane) touchGateway(sn string, now time.Time) {
	p.reg.mu.Lock()
	t := p.reg.touchLocked(sn, "", true, now)
	p.reg.mu.Unlock()
	if t.cameOnline {
		p.online(sn)
	}
}

func (p *Plane) online(gw string) {
	p.log.Info("device online", "gateway", gw)
	p.hub.publish(Event{Type: EventDeviceOnline, SN: gw, Gateway: gw})
}

// onStatus answers update_topo (always: the device re-sends until it gets a
// reply) and records the topology.
func (p *Plane) onStatus(gw string, e *envelope, now time.Time) {
	method := e.Method
	if method == "" {
		method = "update_topo"
	}
	p.send(topicStatusReply(gw), reply(e, method, map[string]any{"result": 0}))
	if method != "update_topo" {
		p.touchGateway(gw, now)
		return
	}
	t, err := parseTopo(e.Data)
	if err != nil {
		p.malformed(topicStatusReply(gw), err)
		p.touchGateway(gw, now)
		return
	}
	tc, added, removed := p.reg.applyTopo(gw, t, now)
	if tc.cameOnline {
		p.online(gw)
	}
	if len(added)+len(removed) > 0 {
		p.log.Info("topology changed", "gateway", gw, "online", added, "offline", removed)
		p.hub.publish(Event{Type: EventTopology, SN: gw, Gateway: gw, Data: map[string]any{"online": added, "offline": removed}})
	}
}

// onOSD keeps the last osd and liveness. The legacy (v1.1) live_status sits
// in the gateway's osd; it is parsed only when present and changed.
func (p *Plane) onOSD(sn string, e *envelope, now time.Time) {
	if len(e.Data) > 0 && !bytes.HasPrefix(bytes.TrimSpace(e.Data), []byte("{")) {
		p.malformed("thing/product/"+sn+"/osd", errMalformed)
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
	p.reg.mu.Lock()
	t := p.reg.touchLocked(sn, e.Gateway, false, now)
	if t.sub != nil {
		t.sub.osd = e.Data
	} else {
		t.gw.osd = e.Data
	}
	var changed []LiveStatus
	if legacy != nil && !bytes.Equal(legacy, t.gw.legacyLS) {
		t.gw.legacyLS = legacy
		if list, _, err := parseLiveStatus(legacy); err == nil {
			changed = t.gw.setLiveStatus(list)
		}
	}
	gw := t.gw.sn
	p.reg.mu.Unlock()
	if t.cameOnline {
		p.online(gw)
	}
	if len(changed) > 0 {
		p.hub.publish(Event{Type: EventState, SN: sn, Gateway: gw, Data: map[string]any{"live_status": changed}})
		p.onLiveStatus(gw, changed)
	}
}

// onState merges a state message (only changed keys arrive), applies
// live_capacity and live_status, and answers need_reply every time while
// applying a repeated tid once.
func (p *Plane) onState(sn string, e *envelope, now time.Time) {
	d, err := e.object()
	if err != nil {
		p.malformed("thing/product/"+sn+"/state", err)
		return
	}
	if e.NeedReply {
		p.send(topicStateReply(sn), reply(e, e.Method, map[string]any{"result": 0}))
	}
	// Parsed outside the lock; applied under it.
	var cams []Camera
	capRaw, hasCap := d["live_capacity"]
	if hasCap {
		if cams, err = parseCapacity(capRaw); err != nil {
			p.malformed("thing/product/"+sn+"/state", err)
			hasCap = false
		}
	}
	var statuses []LiveStatus
	lsRaw, hasLS := d["live_status"]
	if hasLS {
		if statuses, _, err = parseLiveStatus(lsRaw); err != nil {
			p.malformed("thing/product/"+sn+"/state", err)
			hasLS = false
		}
	}

	p.reg.mu.Lock()
	t := p.reg.touchLocked(sn, e.Gateway, false, now)
	target, ring := t.gw.state, &t.gw.tids
	if t.sub != nil {
		target, ring = t.sub.state, &t.sub.tids
	}
	if ring.seen(e.TID) {
		p.reg.mu.Unlock()
		return
	}
	changedKeys := mergeState(target, d)
	var gone []string
	if hasCap {
		gone = p.reg.setCapacity(t.gw, capRaw, cams)
	}
	var lsChanged []LiveStatus
	if hasLS {
		lsChanged = t.gw.setLiveStatus(statuses)
	}
	gw := t.gw.sn
	p.reg.mu.Unlock()

	if t.cameOnline {
		p.online(gw)
	}
	if len(changedKeys) > 0 && p.hub.active() {
		values := make(map[string]json.RawMessage, len(changedKeys))
		for _, k := range changedKeys {
			values[k] = d[k]
		}
		data := map[string]any{"changed": values}
		if hasLS {
			data["live_status_decoded"] = statuses
		}
		if hasCap {
			data["cameras"] = cams
		}
		p.hub.publish(Event{Type: EventState, SN: sn, Gateway: gw, Data: data})
	}
	if len(gone) > 0 {
		p.onCamerasGone(gw, gone)
	}
	if len(lsChanged) > 0 {
		p.onLiveStatus(gw, lsChanged)
	}
}

// onEvents forwards a device event once and answers need_reply every time.
func (p *Plane) onEvents(gw string, e *envelope, now time.Time) {
	if e.NeedReply {
		p.send(topicEventsReply(gw), reply(e, e.Method, map[string]any{"result": 0}))
	}
	p.reg.mu.Lock()
	t := p.reg.touchLocked(gw, "", true, now)
	dup := t.gw.tids.seen(e.TID)
	p.reg.mu.Unlock()
	if t.cameOnline {
		p.online(gw)
	}
	if !dup {
		p.hub.publish(Event{Type: EventDeviceEvent, SN: gw, Gateway: gw, Data: map[string]any{"method": e.Method, "bid": e.BID, "data": e.Data}})
	}
}

// onRequests answers a device's request.
func (p *Plane) onRequests(gw string, e *envelope, now time.Time) {
	p.touchGateway(gw, now)
	if _, err := e.object(); err != nil {
		// Still answered below: a device waits ~40 s for a request that
		// gets no reply (§4.4).
		p.malformed("thing/product/"+gw+"/requests", err)
	}
	data, served := p.answerRequest(gw, e)
	p.send(topicRequestsReply(gw), reply(e, e.Method, data))
	if !served {
		p.log.Info("device request not served; answered with a failure", "gateway", gw, "method", e.Method, "result", unservedResult)
	}
	p.hub.publish(Event{Type: EventRequest, SN: gw, Gateway: gw, Data: map[string]any{"method": e.Method, "served": served}})
}
