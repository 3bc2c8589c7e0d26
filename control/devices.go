package control

import (
	"encoding/json"
	"sort"
	"time"
)

// Device is a device holding an MQTT connection (a dock or a remote
// controller) as GET /api/v1/devices shows it (docs/api.md).
type Device struct {
	SN           string      `json:"sn"`
	Online       bool        `json:"online"`
	Domain       *int        `json:"domain"`
	Type         *int        `json:"type"`
	SubType      *int        `json:"sub_type"`
	ThingVersion string      `json:"thing_version,omitempty"`
	SubDevices   []SubDevice `json:"sub_devices"`
	Cameras      []Camera    `json:"cameras"`
	// LiveCapacity is the device's live_capacity as it sent it.
	LiveCapacity json.RawMessage `json:"live_capacity"`
	LiveStatus   []LiveStatus    `json:"live_status"`
	LastSeen     time.Time       `json:"last_seen"`
	OnlineSince  *time.Time      `json:"online_since,omitempty"`
	// State is the merged state (pushMode 1) and OSD the latest value of
	// every osd key (pushMode 0; a Dock 3 sends it in fragments).
	State map[string]json.RawMessage `json:"state"`
	OSD   json.RawMessage            `json:"osd,omitempty"`
	// Extra holds update_topo fields this version does not know.
	Extra map[string]json.RawMessage `json:"extra,omitempty"`
}

// SubDevice is a device attached to a dock or remote controller, usually
// its aircraft.
type SubDevice struct {
	SN           string                     `json:"sn"`
	Online       bool                       `json:"online"`
	Domain       *int                       `json:"domain"`
	Type         *int                       `json:"type"`
	SubType      *int                       `json:"sub_type"`
	Index        string                     `json:"index,omitempty"`
	ThingVersion string                     `json:"thing_version,omitempty"`
	LastSeen     time.Time                  `json:"last_seen"`
	State        map[string]json.RawMessage `json:"state"`
	OSD          json.RawMessage            `json:"osd,omitempty"`
	Extra        map[string]json.RawMessage `json:"extra,omitempty"`
}

// view copies a device for the API; callers hold the registry lock.
func (g *device) view() Device {
	d := Device{
		SN: g.sn, Online: g.online, Domain: g.domain, Type: g.typ, SubType: g.subType,
		ThingVersion: g.thingVersion, LastSeen: g.lastSeen,
		SubDevices: []SubDevice{}, Cameras: append([]Camera{}, g.cameras...),
		LiveCapacity: g.capacity, LiveStatus: []LiveStatus{},
		State: copyState(g.state), OSD: osdJSON(g.osd), Extra: g.extra,
	}
	for i := range d.Cameras {
		c := &d.Cameras[i]
		c.CurrentLens = c.VideoType
		if ls := g.live[c.VideoID]; ls != nil && ls.Lens != "" {
			c.CurrentLens = ls.Lens
		}
	}
	if d.LiveCapacity == nil {
		d.LiveCapacity = json.RawMessage("null")
	}
	if g.online {
		t := g.onlineSince
		d.OnlineSince = &t
	}
	for _, ls := range g.live {
		d.LiveStatus = append(d.LiveStatus, *ls)
	}
	sort.Slice(d.LiveStatus, func(i, j int) bool { return d.LiveStatus[i].VideoID < d.LiveStatus[j].VideoID })
	for _, s := range g.subs {
		d.SubDevices = append(d.SubDevices, SubDevice{
			SN: s.sn, Online: s.online && g.online, Domain: s.domain, Type: s.typ, SubType: s.subType,
			Index: s.index, ThingVersion: s.thingVersion, LastSeen: s.lastSeen,
			State: copyState(s.state), OSD: osdJSON(s.osd), Extra: s.extra,
		})
	}
	sort.Slice(d.SubDevices, func(i, j int) bool { return d.SubDevices[i].SN < d.SubDevices[j].SN })
	return d
}

// osdJSON is the merged osd as one object; nil before any osd.
func osdJSON(o osdKeys) json.RawMessage {
	if len(o) == 0 {
		return nil
	}
	m := make(map[string]json.RawMessage, len(o))
	for k, v := range o {
		m[k] = *v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return b
}

func copyState(m map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Devices lists every device holding a connection, sorted by SN.
func (p *Plane) Devices() []Device { return p.reg.list() }

// Device returns one device holding a connection.
func (p *Plane) Device(sn string) (Device, bool) { return p.reg.get(sn) }
