package control

import (
	"bytes"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// registry is the plane's picture of the devices. Messages of different
// devices are handled concurrently (one goroutine per device connection in
// the embedded broker), so every method takes mu, which nothing outside
// this file touches; the work under it is map updates only, never I/O.
type registry struct {
	mu       sync.RWMutex
	devices  map[string]*device
	aircraft map[string]string // sub-device SN -> SN of the device holding the connection, from update_topo or a message's gateway field
	videos   map[string]string // video_id -> device SN, from live_capacity
}

// device is a device holding an MQTT connection: a dock or a remote
// controller running Pilot 2 (the Cloud API calls it a "gateway"; its SN
// is the one in the topics).
type device struct {
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
	osd   osdKeys // the latest value of every osd key
	tids  tidRing // state and events already applied

	capacity json.RawMessage
	limits   liveLimits // from live_capacity
	cameras  []Camera
	live     map[string]*LiveStatus
	legacyLS []byte // last legacy live_status object, to skip repeats
}

// subDevice is what hangs off a device: usually its aircraft.
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
	osd          osdKeys
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
	return &registry{devices: map[string]*device{}, aircraft: map[string]string{}, videos: map[string]string{}}
}

// touched says what a message changed about liveness.
type touched struct {
	dev        *device
	sub        *subDevice // nil when the message is the device's own
	cameOnline bool
}

// deviceLocked returns the device sn, creating it.
func (r *registry) deviceLocked(sn string) *device {
	g := r.devices[sn]
	if g == nil {
		g = &device{sn: sn, subs: map[string]*subDevice{}, state: map[string]json.RawMessage{},
			osd: osdKeys{}, live: map[string]*LiveStatus{}}
		r.devices[sn] = g
		delete(r.aircraft, sn)
	}
	return g
}

// touchLocked records a message from sn, on a topic of any kind. hint is
// the message's "gateway" field. A dock forwards some messages of its
// aircraft on the aircraft's own topics (thing/product/{aircraft_sn}/events
// with "gateway":"{dock_sn}"), so an SN is a sub-device when the hint names
// another device or when update_topo listed it under one; only otherwise is
// it a device holding a connection. A device record made for an SN before
// it was known to be a sub-device (the plane restarted while the devices
// stayed connected) is folded into the sub-device.
func (r *registry) touchLocked(sn, hint string, now time.Time) touched {
	var t touched
	parent := r.aircraft[sn]
	if hint != "" && hint != sn {
		parent = hint
	}
	if d := r.devices[sn]; d != nil && len(d.subs) > 0 {
		// A device with sub-devices of its own holds a connection; a
		// message naming another gateway does not make it an aircraft.
		parent = ""
	}
	if parent == "" || parent == sn {
		t.dev = r.deviceLocked(sn)
	} else {
		t.dev = r.deviceLocked(parent)
		t.sub = r.adoptLocked(t.dev, sn)
		t.sub.lastSeen = now
		t.sub.online = true
	}
	t.dev.lastSeen = now
	if !t.dev.online {
		t.dev.online = true
		t.dev.onlineSince = now
		t.cameOnline = true
	}
	return t
}

// adoptLocked makes sn a sub-device of g and returns it. A sub-device that
// hung off another device moves; a device record of sn (taken for a device
// of its own before the topology said otherwise) is folded in and dropped.
func (r *registry) adoptLocked(g *device, sn string) *subDevice {
	if old := r.aircraft[sn]; old != "" && old != g.sn {
		if og := r.devices[old]; og != nil {
			delete(og.subs, sn)
		}
	}
	r.aircraft[sn] = g.sn
	sd := g.subs[sn]
	if sd == nil {
		sd = &subDevice{sn: sn, state: map[string]json.RawMessage{}, osd: osdKeys{}}
		g.subs[sn] = sd
	}
	if wrong := r.devices[sn]; wrong != nil && len(wrong.subs) == 0 {
		for k, v := range wrong.state {
			if _, ok := sd.state[k]; !ok {
				sd.state[k] = v
			}
		}
		for k, v := range wrong.osd {
			if _, ok := sd.osd[k]; !ok {
				sd.osd[k] = v
			}
		}
		for id, owner := range r.videos {
			if owner == sn {
				delete(r.videos, id)
			}
		}
		if wrong.lastSeen.After(sd.lastSeen) {
			sd.lastSeen = wrong.lastSeen
		}
		delete(r.devices, sn)
	}
	return sd
}

// topo is update_topo's data.
type topo struct {
	Domain       *cloudapi.FlexInt   `json:"domain"`
	Type         *cloudapi.FlexInt   `json:"type"`
	SubType      *cloudapi.FlexInt   `json:"sub_type"`
	ThingVersion cloudapi.FlexString `json:"thing_version"`
	Version      cloudapi.FlexString `json:"version"` // v1.1
	SubDevices   []topoSub           `json:"sub_devices"`
	extra        map[string]json.RawMessage
}

type topoSub struct {
	SN           cloudapi.FlexString `json:"sn"`
	Domain       *cloudapi.FlexInt   `json:"domain"`
	Type         *cloudapi.FlexInt   `json:"type"`
	SubType      *cloudapi.FlexInt   `json:"sub_type"`
	Index        cloudapi.FlexString `json:"index"`
	ThingVersion cloudapi.FlexString `json:"thing_version"`
	Version      cloudapi.FlexString `json:"version"`
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
		if topoKnown[cloudapi.NormKey(k)] {
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
		return nil, cloudapi.ErrMalformed
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

func intPtr(f *cloudapi.FlexInt) *int {
	if f == nil {
		return nil
	}
	v := int(*f)
	return &v
}

func firstNonEmpty(a, b cloudapi.FlexString) string {
	if a != "" {
		return string(a)
	}
	return string(b)
}

// applyTopo records a device's topology. Sub-devices missing from the list
// went offline; an empty list means nothing is attached.
func (r *registry) applyTopo(gwSN string, t *topo, now time.Time) (tc touched, added, removed []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.aircraft[gwSN]; old != "" {
		// It sends update_topo on its own topic: it holds a connection.
		if og := r.devices[old]; og != nil {
			delete(og.subs, gwSN)
		}
		delete(r.aircraft, gwSN)
	}
	tc = r.touchLocked(gwSN, "", now)
	g := tc.dev
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
		sd := r.adoptLocked(g, sn)
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

// setCapacity stores live_capacity and re-indexes the device's videos. It
// returns the video_ids that are no longer offered.
func (r *registry) setCapacity(g *device, raw json.RawMessage, cams []Camera) (gone []string) {
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
// status, error or lens changed. Each entry is first matched to the camera
// it is about (matchCamera): a dock names the current lens in the video_id
// it reports. The current shape lists every push of the device, so a video
// missing from it is not live; the legacy shape speaks of one video, so
// every other video is not live either.
func (g *device) setLiveStatus(list []LiveStatus) (changed []LiveStatus) {
	listed := map[string]bool{}
	for i := range list {
		ls := g.matchCamera(list[i])
		listed[ls.VideoID] = true
		old := g.live[ls.VideoID]
		if old == nil || old.Status != ls.Status || old.ErrorStatus != ls.ErrorStatus || old.Lens != ls.Lens || old.VideoQuality != ls.VideoQuality {
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

// sweep marks devices silent for longer than after as offline.
func (r *registry) sweep(now time.Time, after time.Duration) (offline []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for sn, g := range r.devices {
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

// camera finds a video_id offered by some device's live_capacity.
func (r *registry) camera(videoID string) (gw string, cam Camera, online, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	gw = r.videos[videoID]
	g := r.devices[gw]
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
	if g := r.devices[gw]; g != nil {
		if ls := g.live[videoID]; ls != nil {
			return ls.Status == 1
		}
	}
	return false
}

// liveNow returns the device's live limits and the video_ids it reports
// pushing.
func (r *registry) liveNow(gw string) (liveLimits, []string) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g := r.devices[gw]
	if g == nil {
		return liveLimits{}, nil
	}
	var ids []string
	for id, ls := range g.live {
		if ls.Status == 1 {
			ids = append(ids, id)
		}
	}
	return g.limits, ids
}

// cameOnlineAt is when the device, or the latest of its sub-devices, came
// online: devices refuse pushes with x13006 for a while after that.
func (r *registry) cameOnlineAt(gw string) time.Time {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g := r.devices[gw]
	if g == nil {
		return time.Time{}
	}
	if g.topoChanged.After(g.onlineSince) {
		return g.topoChanged
	}
	return g.onlineSince
}

// status says whether a device is known and online.
func (r *registry) status(gw string) (known, online bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g := r.devices[gw]
	return g != nil, g != nil && g.online
}

// parentOf names the device holding the connection of a sub-device, for
// the broker's ACL.
func (r *registry) parentOf(sn string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.aircraft[sn]
}

// countOnline returns online devices and sub-devices, for the metrics.
func (r *registry) countOnline() (devices, subs int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, g := range r.devices {
		if g.online {
			devices++
			for _, s := range g.subs {
				if s.online {
					subs++
				}
			}
		}
	}
	return devices, subs
}

// touch records a message on a topic that carries nothing to keep
// (services_reply, requests, property/set_reply, drc/up, a status that is
// not update_topo) and returns the device holding the connection.
func (r *registry) touch(sn, hint string, now time.Time) (dev string, cameOnline bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.touchLocked(sn, hint, now)
	return t.dev.sn, t.cameOnline
}

// touchEvent records an events message; dup says its tid was applied
// already (the device sends it again until it gets its reply).
func (r *registry) touchEvent(sn, hint, tid string, now time.Time) (dev string, cameOnline, dup bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.touchLocked(sn, hint, now)
	ring := &t.dev.tids
	if t.sub != nil {
		ring = &t.sub.tids
	}
	return t.dev.sn, t.cameOnline, ring.seen(tid)
}

// osdResult is what an osd message changed.
type osdResult struct {
	dev        string // the device holding the connection
	cameOnline bool
	changed    []LiveStatus // from a legacy live_status, when it changed
}

// osdKeys is a merged osd: the latest value of every key. Values are held
// by pointer so that an update of a known key, the usual case, allocates
// nothing (a map lookup by string(bytes) does not copy the key).
type osdKeys map[string]*json.RawMessage

func (o osdKeys) set(key []byte, v json.RawMessage) {
	p := o[string(key)]
	if p == nil {
		p = new(json.RawMessage)
		o[string(key)] = p
	}
	*p = v
}

// applyOSD merges an osd message into the osd of sn. A Dock 3 sends its
// osd in fragments of different keys in turn (docs/dji-cloud-api.md), so
// the latest value of every key is kept, never only the last message.
// legacy is the v1.1 live_status parsed from it (legacyRaw as sent), nil
// when there is none.
func (r *registry) applyOSD(sn, hint string, members []cloudapi.Member, legacyRaw json.RawMessage, legacy []LiveStatus, now time.Time) osdResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.touchLocked(sn, hint, now)
	target := t.dev.osd
	if t.sub != nil {
		target = t.sub.osd
	}
	for _, m := range members {
		target.set(m.Key, m.Value)
	}
	res := osdResult{dev: t.dev.sn, cameOnline: t.cameOnline}
	if raw := legacyRaw; legacy != nil && !bytes.Equal(raw, t.dev.legacyLS) {
		t.dev.legacyLS = raw
		res.changed = t.dev.setLiveStatus(legacy)
	}
	return res
}

// osdOf copies the merged osd of a device or sub-device (nil if unknown).
func (r *registry) osdOf(sn string) map[string]json.RawMessage {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var keys osdKeys
	if d := r.devices[sn]; d != nil {
		keys = d.osd
	} else if parent := r.aircraft[sn]; parent != "" {
		if d := r.devices[parent]; d != nil && d.subs[sn] != nil {
			keys = d.subs[sn].osd
		}
	}
	if len(keys) == 0 {
		return nil
	}
	out := make(map[string]json.RawMessage, len(keys))
	for k, v := range keys {
		out[k] = *v
	}
	return out
}

// stateUpdate is a state message, parsed and checked outside the lock.
type stateUpdate struct {
	sn, hint, tid string
	data          map[string]json.RawMessage
	capacity      json.RawMessage // live_capacity as sent; nil when absent
	limits        liveLimits
	cameras       []Camera
	statuses      []LiveStatus // live_status decoded
	hasStatus     bool
}

// stateResult is what a state message changed.
type stateResult struct {
	dev         string
	cameOnline  bool
	dup         bool     // the tid was applied already: nothing else is set
	changedKeys []string // state keys whose value changed
	gone        []string // video_ids no longer offered
	liveChanged []LiveStatus
}

// applyState merges a state message (only changed keys arrive) and applies
// live_capacity and live_status, once per tid. Only a message checked
// whole comes here: a malformed one changes nothing (inbox.onState).
func (r *registry) applyState(u stateUpdate, now time.Time) stateResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.touchLocked(u.sn, u.hint, now)
	res := stateResult{dev: t.dev.sn, cameOnline: t.cameOnline}
	target, ring := t.dev.state, &t.dev.tids
	if t.sub != nil {
		target, ring = t.sub.state, &t.sub.tids
	}
	if ring.seen(u.tid) {
		res.dup = true
		return res
	}
	res.changedKeys = mergeState(target, u.data)
	if u.capacity != nil {
		res.gone = r.setCapacity(t.dev, u.capacity, u.cameras)
		t.dev.limits = u.limits
	}
	if u.hasStatus {
		res.liveChanged = t.dev.setLiveStatus(u.statuses)
	}
	return res
}

// liveness records a message that is refused (malformed): the device is
// alive, nothing else changes.
func (r *registry) liveness(sn, hint string, now time.Time) (dev string, cameOnline bool) {
	return r.touch(sn, hint, now)
}

// list returns every device as the API shows it, sorted by SN.
func (r *registry) list() []Device {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Device, 0, len(r.devices))
	for _, g := range r.devices {
		out = append(out, g.view())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SN < out[j].SN })
	return out
}

// get returns one device as the API shows it.
func (r *registry) get(sn string) (Device, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g := r.devices[sn]
	if g == nil {
		return Device{}, false
	}
	return g.view(), true
}
