package platform

import (
	"time"
)

// DeviceEvent tells that a device came online or went offline.
type DeviceEvent struct {
	DeviceID string    `json:"device_id"`
	Online   bool      `json:"online"`
	Reason   string    `json:"reason"` // registered, keepalive, silent, expired, unregistered, revoked
	LastSeen time.Time `json:"last_seen"`
}

// watchPresence takes devices offline that stopped talking: every quarter
// of a keepalive interval it looks for devices that were online and no
// longer are, logs each and tells OnDeviceEvent.
func (p *Platform) watchPresence() {
	defer p.wg.Done()
	t := time.NewTicker(max(p.KeepaliveInterval/4, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
			p.checkPresence()
		}
	}
}

func (p *Platform) checkPresence() {
	now := p.now()
	var evs []DeviceEvent
	p.mu.Lock()
	for _, d := range p.devices {
		if d.offline || p.online(d, now) {
			continue
		}
		d.offline = true
		why := "silent"
		if !d.registered {
			why = "unregistered"
		} else if !now.Before(d.expires) {
			why = "expired"
		}
		evs = append(evs, DeviceEvent{DeviceID: d.id, Reason: why, LastSeen: d.lastSeen})
	}
	p.mu.Unlock()
	for _, ev := range evs {
		p.metrics.devicesOffline.Add(1)
		p.Log.Warn("GB28181 device offline", "device", ev.DeviceID, "reason", ev.Reason,
			"last_seen", ev.LastSeen.Format(time.RFC3339), "silent_for", now.Sub(ev.LastSeen).Round(time.Second))
		p.deviceEvent(ev)
	}
}

// markOnline notes that d is online again; it returns the event to send
// once p.mu is released (Online false: nothing to say). p.mu is held.
func (p *Platform) markOnline(d *device, why string) DeviceEvent {
	if !d.offline {
		return DeviceEvent{}
	}
	d.offline = false
	return DeviceEvent{DeviceID: d.id, Online: true, Reason: why, LastSeen: d.lastSeen}
}

// markOffline notes that d went offline for a reason the platform knows at
// once (unregistered, revoked); like markOnline. p.mu is held.
func (p *Platform) markOffline(d *device, why string) DeviceEvent {
	if d.offline {
		return DeviceEvent{}
	}
	d.offline = true
	return DeviceEvent{DeviceID: d.id, Reason: why, LastSeen: d.lastSeen}
}

// deviceEvent hands ev to OnDeviceEvent; an empty event is skipped.
func (p *Platform) deviceEvent(ev DeviceEvent) {
	if ev.DeviceID == "" || p.OnDeviceEvent == nil {
		return
	}
	p.OnDeviceEvent(ev)
}
