package control

import (
	"sync"
	"time"
)

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
// fragment) on the event stream, at most every osdEventEvery per device and
// only while someone listens: the console and the map follow the fleet
// without polling.
func (p *Plane) publishOSD(sn, gw string, now time.Time) {
	if !p.events.active() || !p.osdPace.due(sn, now) {
		return
	}
	if osd := p.reg.osdOf(sn); osd != nil {
		p.events.publish(Event{Type: EventOSD, SN: sn, Gateway: gw, Data: osd})
	}
}
