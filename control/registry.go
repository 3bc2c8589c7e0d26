package control

import (
	"bytes"
	"encoding/json"
	"sort"
	"sync"
	"time"
)

// registry is the plane's picture of the devices. Messages of different
// devices are handled concurrently (one goroutine per device connection in
// the embedded broker), so every access holds mu; the work under it is map
// updates only, never I/O.
type registry struct {
	mu       sync.RWMutex
	gateways map[string]*gateway
	aircraft map[string]string // sub-device SN -> gateway SN, from update_topo
	videos   map[string]string // video_id -> gateway SN, from live_capacity
}

// gateway is a device holding an MQTT connection: a dock or a remote
// controller running Pilot 2.
type gateway struct {
	sn           string
	domain       *int
	typ, subType *int
	thingVersion string
	extra        map[string]json.RawMessage // update_topo data fields not known here

	online      bool
	onlineSince time.Time
	topoChanged time.Time // last time a sub-device came online
	lastSeen    time.Time

	subs  map[string]*subDevice
	state map[string]json.RawMessage
	osd   json.RawMessage
	tids  tidRing // state and events already applied

	capacity json.RawMessage
	cameras  []Camera
	live     map[string]*LiveStatus
	legacyLS []byte // last legacy live_status object, to skip repeats
}

// subDevice is what hangs off a gateway: usually its aircraft.
type subDevice struct {
	sn           string
	domain       *int
	typ, subType *int
	index        string
	thingVersion string
	extra        map[string]json.RawMessage
	online       bool
	lastSeen     time.Time
	state        map[string]json.RawMessage
	osd          json.RawMessage
	tids         tidRing
}

// tidRing remembers the last tids applied, so a message the device sends
// again (it does, until it gets its reply) is applied once.
type tidRing struct {
	ids [16]string
	n   uint8
}

func (r *tidRing) seen(tid string) bool {
	if tid == "" {
		return false
	}
	for _, id := range r.ids {
		if id == tid {
			return true
		}
	}
	r.ids[r.n%uint8(len(r.ids))] = tid
	r.n++
	return false
}

func newRegistry() *registry {
	return &registry{gateways: map[string]*gateway{}, aircraft: map[string]string{}, videos: map[string]string{}}
}

// touched says what a message changed about liveness.
type touched struct {
	gw         *gateway
	sub        *subDevice // nil when the message is the gateway's own
	cameOnline bool
}

// gatewayLocked returns the gateway sn, creating it.
func (r *registry) gatewayLocked(sn string) *gateway {
	g := r.gateways[sn]
	if g == nil {
		g = &gateway{sn: sn, subs: map[string]*subDevice{}, state: map[string]json.RawMessage{}, live: map[string]*LiveStatus{}}
		r.gateways[sn] = g
		delete(r.aircraft, sn)
	}
	return g
}

// touchLocked records a message from device sn. hint is the message's
// "gateway" field. A device not announced by update_topo (the plane
// restarted while the devices stayed connected) is placed by the hint:
// a different gateway SN makes it that gateway's sub-device.
func (r *registry) touchLocked(sn, hint string, asGateway bool, now time.Time) touched {
	var t touched
	switch {
	case r.gateways[sn] != nil || asGateway:
		t.gw = r.gatewayLocked(sn)
	case r.aircraft[sn] != "":
		t.gw = r.gatewayLocked(r.aircraft[sn])
	case hint != "" && hint != sn:
		t.gw = r.gatewayLocked(hint)
		r.aircraft[sn] = hint
	default:
		t.gw = r.gatewayLocked(sn)
	}
	if t.gw.sn != sn {
		t.sub = t.gw.subs[sn]
		if t.sub == nil {
			t.sub = &subDevice{sn: sn, state: map[string]json.RawMessage{}}
			t.gw.subs[sn] = t.sub
		}
		t.sub.lastSeen = now
		t.sub.online = true
	}
	t.gw.lastSeen = now
	if !t.gw.online {
		t.gw.online = true
		t.gw.onlineSince = now
		t.cameOnline = true
	}
	return t
}

// topo is update_topo's data.
type topo struct {
	Domain       *FlexInt   `json:"domain"`
	Type         *FlexInt   `json:"type"`
	SubType      *FlexInt   `json:"sub_type"`
	ThingVersion FlexString `json:"thing_version"`
	Version      FlexString `json:"version"` // v1.1
	SubDevices   []topoSub  `json:"sub_devices"`
	extra        map[string]json.RawMessage
}

type topoSub struct {
	SN           FlexString `json:"sn"`
	Domain       *FlexInt   `json:"domain"`
	Type         *FlexInt   `json:"type"`
	SubType      *FlexInt   `json:"sub_type"`
	Index        FlexString `json:"index"`
	ThingVersion FlexString `json:"thing_version"`
	Version      FlexString `json:"version"`
	extra        map[string]json.RawMessage
}

// topoKnown are the update_topo keys read above; device_secret and nonce are
// credentials and are dropped rather than kept as unknown fields.
var topoKnown = map[string]bool{"domain": true, "type": true, "sub_type": true, "thing_version": true,
	"version": true, "sub_devices": true, "sn": true, "index": true, "device_secret": true, "nonce": true}

func extraFields(raw json.RawMessage) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	for k := range m {
		if topoKnown[normKey(k)] {
			delete(m, k)
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// parseTopo reads update_topo data; unknown fields are kept.
func parseTopo(raw json.RawMessage) (*topo, error) {
	t := &topo{}
	if len(raw) == 0 {
		return t, nil
	}
	var subsRaw struct {
		SubDevices []json.RawMessage `json:"sub_devices"`
	}
	if err := json.Unmarshal(raw, t); err != nil {
		return nil, errMalformed
	}
	_ = json.Unmarshal(raw, &subsRaw)
	t.extra = extraFields(raw)
	for i := range t.SubDevices {
		if i < len(subsRaw.SubDevices) {
			t.SubDevices[i].extra = extraFields(subsRaw.SubDevices[i])
		}
	}
	return t, nil
}

func intPtr(f *FlexInt) *int {
	if f == nil {
		return nil
	}
	v := int(*f)
	return &v
}

func firstNonEmpty(a, b FlexString) string {
	if a != "" {
		return string(a)
	}
	return string(b)
}

// applyTopo records a gateway's topology. Sub-devices missing from the list
// went offline; an empty list means nothing is attached.
func (r *registry) applyTopo(gwSN string, t *topo, now time.Time) (tc touched, added, removed []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tc = r.touchLocked(gwSN, "", true, now)
	g := tc.gw
	if t.Domain != nil {
		g.domain = intPtr(t.Domain)
	}
	if t.Type != nil {
		g.typ = intPtr(t.Type)
	}
	if t.SubType != nil {
		g.subType = intPtr(t.SubType)
	}
	if v := firstNonEmpty(t.ThingVersion, t.Version); v != "" {
		g.thingVersion = v
	}
	g.extra = t.extra
	listed := map[string]bool{}
	for _, s := range t.SubDevices {
		sn := string(s.SN)
		if sn == "" || sn == gwSN {
			continue
		}
		listed[sn] = true
		if old := r.aircraft[sn]; old != "" && old != gwSN {
			if og := r.gateways[old]; og != nil {
				delete(og.subs, sn)
			}
		}
		r.aircraft[sn] = gwSN
		sd := g.subs[sn]
		if sd == nil {
			sd = &subDevice{sn: sn, state: map[string]json.RawMessage{}}
			g.subs[sn] = sd
		}
		if !sd.online {
			added = append(added, sn)
		}
		sd.online = true
		sd.lastSeen = now
		sd.domain, sd.typ, sd.subType = intPtr(s.Domain), intPtr(s.Type), intPtr(s.SubType)
		sd.index = string(s.Index)
		sd.thingVersion = firstNonEmpty(s.ThingVersion, s.Version)
		sd.extra = s.extra
	}
	for sn, sd := range g.subs {
		if !listed[sn] && sd.online {
			sd.online = false
			removed = append(removed, sn)
		}
	}
	if len(added) > 0 {
		g.topoChanged = now
	}
	sort.Strings(added)
	sort.Strings(removed)
	return tc, added, removed
}

// mergeState applies changed keys; a state message carries only what
// changed, so the snapshot is merged key by key, never replaced.
func mergeState(dst, src map[string]json.RawMessage) (changed []string) {
	for k, v := range src {
		if old, ok := dst[k]; ok && bytes.Equal(old, v) {
			continue
		}
		dst[k] = v
		changed = append(changed, k)
	}
	sort.Strings(changed)
	return changed
}

// setCapacity stores live_capacity and re-indexes the gateway's videos. It
// returns the video_ids that are no longer offered.
func (r *registry) setCapacity(g *gateway, raw json.RawMessage, cams []Camera) (gone []string) {
	newIDs := map[string]bool{}
	for _, c := range cams {
		newIDs[c.VideoID] = true
	}
	for _, c := range g.cameras {
		if !newIDs[c.VideoID] {
			gone = append(gone, c.VideoID)
		}
		if r.videos[c.VideoID] == g.sn {
			delete(r.videos, c.VideoID)
		}
	}
	for id := range newIDs {
		r.videos[id] = g.sn
	}
	g.capacity = raw
	g.cameras = cams
	return gone
}

// setLiveStatus records a live_status report and returns the entries whose
// status, error or lens changed. The current shape lists every push of the
// gateway, so a video missing from it is not live; the legacy shape speaks
// of one video, so every other video is not live either.
func (g *gateway) setLiveStatus(list []LiveStatus) (changed []LiveStatus) {
	listed := map[string]bool{}
	for i := range list {
		ls := list[i]
		listed[ls.VideoID] = true
		old := g.live[ls.VideoID]
		if old == nil || old.Status != ls.Status || old.ErrorStatus != ls.ErrorStatus || old.VideoType != ls.VideoType || old.VideoQuality != ls.VideoQuality {
			changed = append(changed, ls)
		}
		g.live[ls.VideoID] = &ls
	}
	for id, old := range g.live {
		if !listed[id] && old.Status != 0 {
			old.Status = 0
			changed = append(changed, *old)
		}
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i].VideoID < changed[j].VideoID })
	return changed
}

// sweep marks gateways silent for longer than after as offline.
func (r *registry) sweep(now time.Time, after time.Duration) (offline []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for sn, g := range r.gateways {
		if g.online && now.Sub(g.lastSeen) > after {
			g.online = false
			for _, s := range g.subs {
				s.online = false
			}
			for _, ls := range g.live {
				ls.Status = 0
			}
			offline = append(offline, sn)
		}
	}
	sort.Strings(offline)
	return offline
}

// camera finds a video_id offered by some gateway's live_capacity.
func (r *registry) camera(videoID string) (gw string, cam Camera, online, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	gw = r.videos[videoID]
	g := r.gateways[gw]
	if g == nil {
		return "", Camera{}, false, false
	}
	for _, c := range g.cameras {
		if c.VideoID == videoID {
			return gw, c, g.online, true
		}
	}
	return "", Camera{}, false, false
}

// videoLive reports whether the device says it is pushing videoID.
func (r *registry) videoLive(gw, videoID string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if g := r.gateways[gw]; g != nil {
		if ls := g.live[videoID]; ls != nil {
			return ls.Status == 1
		}
	}
	return false
}

// cameOnlineAt is when the gateway, or the latest of its sub-devices, came
// online: devices refuse pushes with x13006 for a while after that.
func (r *registry) cameOnlineAt(gw string) time.Time {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g := r.gateways[gw]
	if g == nil {
		return time.Time{}
	}
	if g.topoChanged.After(g.onlineSince) {
		return g.topoChanged
	}
	return g.onlineSince
}

// status says whether a gateway is known and online.
func (r *registry) status(gw string) (known, online bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g := r.gateways[gw]
	return g != nil, g != nil && g.online
}

// gatewayOf names the gateway of a sub-device, for the broker's ACL.
func (r *registry) gatewayOf(sn string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.aircraft[sn]
}

// counts returns online gateways and sub-devices, for the metrics.
func (r *registry) countOnline() (gateways, subs int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, g := range r.gateways {
		if g.online {
			gateways++
			for _, s := range g.subs {
				if s.online {
					subs++
				}
			}
		}
	}
	return gateways, subs
}
