package platform

import (
	"net"
	"sort"
	"time"
)

// maxChannels bounds the catalog kept per device: a misbehaving device must
// not grow the platform's memory without end.
const maxChannels = 4096

// device is what the platform knows of a registered device. p.mu guards it.
type device struct {
	id        string
	transport string // "UDP" or "TCP", as the device last spoke to us
	source    string // host:port its last REGISTER or keepalive came from
	contact   string
	callID    string // of the REGISTER, to tell a restart from a refresh

	registered   bool
	offline      bool // noted offline (and said so) until it speaks again
	registeredAt time.Time
	expires      time.Time
	lastSeen     time.Time // REGISTER, keepalive or any MESSAGE
	lastKeepAt   time.Time

	info     DeviceDetails
	channels map[string]Channel
	// catalog gathers a multi-part Catalog answer by SN until SumNum items
	// came, then replaces channels (dropping channels the device no longer
	// lists).
	catalogSN  string
	catalogSum int
	catalog    map[string]Channel
}

// DeviceInfo is a device as GET /api/v1/gb28181/devices shows it.
type DeviceInfo struct {
	DeviceID     string    `json:"device_id"`
	Online       bool      `json:"online"`
	Registered   bool      `json:"registered"`
	Transport    string    `json:"transport"`
	RemoteAddr   string    `json:"remote_addr"`
	RegisteredAt time.Time `json:"registered_at"`
	Expires      time.Time `json:"expires"`
	LastSeen     time.Time `json:"last_seen"`
	DeviceDetails
	Channels []Channel     `json:"channels"`
	Sessions []SessionInfo `json:"sessions"`
}

// DeviceDetails is the device's answer to a DeviceInfo query.
type DeviceDetails struct {
	Name         string `json:"name,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
	Firmware     string `json:"firmware,omitempty"`
	ChannelCount int    `json:"channel_count,omitempty"`
}

// Channel is one item of a device's catalog.
type Channel struct {
	ChannelID    string `json:"channel_id"`
	Name         string `json:"name"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
	Status       string `json:"status,omitempty"`
	ParentID     string `json:"parent_id,omitempty"`
}

// online tells whether the device is registered, its registration has not
// expired, and it spoke within MissedKeepalives keepalive intervals.
func (p *Platform) online(d *device, now time.Time) bool {
	return d.registered && now.Before(d.expires) &&
		now.Sub(d.lastSeen) <= time.Duration(MissedKeepalives)*p.KeepaliveInterval
}

// info describes d; p.mu is held.
func (p *Platform) infoOf(d *device, now time.Time) DeviceInfo {
	in := DeviceInfo{
		DeviceID: d.id, Online: p.online(d, now), Registered: d.registered && now.Before(d.expires),
		Transport: d.transport, RemoteAddr: d.source, RegisteredAt: d.registeredAt, Expires: d.expires,
		LastSeen: d.lastSeen, DeviceDetails: d.info, Channels: []Channel{}, Sessions: []SessionInfo{},
	}
	for _, c := range d.channels {
		in.Channels = append(in.Channels, c)
	}
	sort.Slice(in.Channels, func(i, j int) bool { return in.Channels[i].ChannelID < in.Channels[j].ChannelID })
	for _, s := range p.sessions {
		if s.DeviceID == d.id {
			in.Sessions = append(in.Sessions, s.Info())
		}
	}
	sort.Slice(in.Sessions, func(i, j int) bool { return in.Sessions[i].ChannelID < in.Sessions[j].ChannelID })
	return in
}

// Devices lists every device that registered since start, sorted by id,
// with its channels, online state and remote address.
func (p *Platform) Devices() []DeviceInfo {
	if p.now == nil {
		return []DeviceInfo{} // not initialized
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]DeviceInfo, 0, len(p.devices))
	for _, d := range p.devices {
		out = append(out, p.infoOf(d, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DeviceID < out[j].DeviceID })
	return out
}

// Device returns one device, and whether it is known.
func (p *Platform) Device(id string) (DeviceInfo, bool) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.devices[id]
	if d == nil {
		return DeviceInfo{}, false
	}
	return p.infoOf(d, now), true
}

// SetDevicePassword sets the digest password of one device, overriding the
// default Password; an empty pw removes it. The DJI flow mints one per push
// session and hands it to the device in the url_type 3 url.
func (p *Platform) SetDevicePassword(deviceID, pw string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pw == "" {
		delete(p.passwords, deviceID)
		return
	}
	p.passwords[deviceID] = pw
}

// passwordFor is the password a device must register with; p.mu is held.
func (p *Platform) passwordFor(deviceID string) string {
	if pw, ok := p.passwords[deviceID]; ok {
		return pw
	}
	return p.Password
}

// touch notes that the device spoke from source over transport. A REGISTER
// (authenticated) may move it anywhere; an unauthenticated MESSAGE only
// refreshes the port as long as the IP stays the same, so that a forged
// keepalive cannot redirect a device's video elsewhere. p.mu is held.
func (d *device) touch(source, transport string, now time.Time, authenticated bool) bool {
	d.lastSeen = now
	if source == d.source && transport == d.transport {
		return true
	}
	if !authenticated && !sameHost(source, d.source) {
		return false
	}
	d.source, d.transport = source, transport
	return true
}

func sameHost(a, b string) bool {
	ha, _, err1 := net.SplitHostPort(a)
	hb, _, err2 := net.SplitHostPort(b)
	return err1 == nil && err2 == nil && ha == hb
}
