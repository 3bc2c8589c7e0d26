package control

import (
	"encoding/json"
	"sync"
	"time"
)

// OSDWatcher hears what the osd events say, in the process: each device's
// merged osd as it comes, paced as the events are, and a device going
// offline (online false, osd nil). The console's telemetry stream
// (gateway/web.Telemetry) implements it. The plane calls it from a
// device's message handler: it must return at once.
type OSDWatcher interface {
	DeviceOSD(sn, gateway string, online bool, at time.Time, osd json.RawMessage)
}

// osdEventEvery bounds osd events per device: docks and aircraft send osd
// at up to 10 Hz, a screen needs two updates a second.
const osdEventEvery = 500 * time.Millisecond

// osdPacer decides which osd messages become events on /api/v1/events.
type osdPacer struct {
	mu   sync.Mutex
	last map[string]time.Time // sn -> last osd event
}

// due tells whether sn's osd may go out at now, and if so notes it.
func (o *osdPacer) due(sn string, now time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.last == nil {
		o.last = map[string]time.Time{}
	}
	if t, ok := o.last[sn]; ok && now.Sub(t) < osdEventEvery {
		return false
	}
	o.last[sn] = now
	return true
}

// publishOSD puts sn's merged osd (every key's latest value, not the last
// fragment) on the event stream and tells the OSDWatcher, at most every
// osdEventEvery per device and only while someone listens: the console and
// the map follow the fleet without polling.
func (p *Plane) publishOSD(sn, gw string, now time.Time) {
	if (!p.events.active() && p.OSDWatcher == nil) || !p.osdPace.due(sn, now) {
		return
	}
	osd := p.reg.osdOf(sn)
	if osd == nil {
		return
	}
	p.events.publish(Event{Type: EventOSD, SN: sn, Gateway: gw, Data: osd})
	if p.OSDWatcher != nil {
		if b, err := json.Marshal(osd); err == nil {
			p.OSDWatcher.DeviceOSD(sn, gw, true, now, b)
		}
	}
}

// watchOffline tells the OSDWatcher that gw and the devices behind it
// went offline.
func (p *Plane) watchOffline(gw string, now time.Time) {
	if p.OSDWatcher == nil {
		return
	}
	p.OSDWatcher.DeviceOSD(gw, gw, false, now, nil)
	if d, ok := p.reg.get(gw); ok {
		for _, s := range d.SubDevices {
			p.OSDWatcher.DeviceOSD(s.SN, gw, false, now, nil)
		}
	}
}
