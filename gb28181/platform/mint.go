package platform

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
)

// Id type codes (GB/T 28181-2016 Annex D, digits 11-13) of the ids minted
// for DJI pushes: the agent is a camera device (132), its channel a
// camera channel (131).
const (
	agentType   = "132"
	channelType = "131"
)

// mint is one prepared DJI push: when agentID registers with password, the
// platform INVITEs channel and publishes it as path.
type mint struct {
	path      string
	sn        string // device SN: the part of path before the first slash
	agentID   string
	channelID string
	password  string
	session   *Session
	revoked   bool
	// cancel ends an INVITE in flight for this push.
	cancel context.CancelFunc
}

// MintPush prepares a GB28181 push of path (a DJI video_id such as
// "SN/165-0-7/normal-0") and returns the url_type 3 url for live_start_push
// (docs/dji-cloud-api.md, "url formats per url_type"): serverIP, serverPort,
// serverID, agentID, agentPassword, localPort and channel, keys in that exact
// case. agentID and the password are new for each push (pushes of one device
// that run at the same time share them: one registration carries its
// cameras); channel is derived from the path, 20 digits and the same for
// the same path.
//
// When the agent registers with it, the platform INVITEs the channel (over
// PushTransport) and publishes the PS media on the hub as path. revoke ends
// the push at once: an INVITE in flight is cancelled, a call up gets BYE,
// and once no other push of the agent runs its password is forgotten and
// its registration dropped (its next REGISTER or keepalive is refused).
func (p *Platform) MintPush(path string) (string, func(), error) {
	if err := gateway.ValidPath(path); err != nil {
		return "", nil, err
	}
	sn, _, _ := strings.Cut(path, "/")
	p.mu.Lock()
	if p.closed || p.mints == nil {
		p.mu.Unlock()
		return "", nil, errClosed
	}
	if old := p.mints[path]; old != nil {
		p.mu.Unlock()
		return "", nil, fmt.Errorf("gb28181: a push of %s is already minted: %w", path, gateway.ErrPathBusy)
	}
	m := &mint{path: path, sn: sn}
	m.channelID = p.idFor(channelType, path, func(id string) bool {
		for _, o := range p.mints {
			if o.channelID == id {
				return true
			}
		}
		return false
	})
	// One agent (one SIP registration) may carry several cameras of one
	// device while their pushes run: they share its id and password.
	// Otherwise the push gets an agent id and a password never handed out
	// before, so that nothing a revoked push knew opens a new one.
	for _, o := range p.mints {
		if o.sn == sn {
			m.agentID, m.password = o.agentID, o.password
			break
		}
	}
	if m.agentID == "" {
		nonce, err := randomPassword()
		if err != nil {
			p.mu.Unlock()
			return "", nil, err
		}
		m.agentID = p.idFor(agentType, sn+"/"+nonce, func(id string) bool {
			_, known := p.devices[id]
			_, revoked := p.revoked[id]
			return known || revoked || p.passwords[id] != ""
		})
		if m.password, err = randomPassword(); err != nil {
			p.mu.Unlock()
			return "", nil, err
		}
	}
	p.mints[path] = m
	p.passwords[m.agentID] = m.password
	// A device that is registered already (a second camera, or a push
	// minted again after a revoke) gets its INVITE now. The WaitGroup is
	// added to under the lock that Close sets closed with.
	d := p.devices[m.agentID]
	inviteNow := d != nil && p.online(d, p.now())
	if inviteNow {
		p.wg.Add(1)
	}
	p.mu.Unlock()

	// Written by hand rather than url.Values.Encode(), which sorts keys:
	// this is the order of the Cloud API documentation.
	u := "serverIP=" + url.QueryEscape(p.PublicHost) +
		"&serverPort=" + strconv.Itoa(p.port) +
		"&serverID=" + p.ServerID +
		"&agentID=" + m.agentID +
		"&agentPassword=" + url.QueryEscape(m.password) +
		"&localPort=" + strconv.Itoa(p.AgentLocalPort) +
		"&channel=" + m.channelID
	p.Log.Info("GB28181 push minted", "path", path, "agent", m.agentID, "channel", m.channelID)

	if inviteNow {
		go func() { defer p.wg.Done(); p.startMint(m) }()
	}
	return u, func() { p.revokeMint(m) }, nil
}

// idFor makes a 20-digit GB id: domain, type code, and 7 digits of a hash
// of key. An id taken by another live mint moves to the next number, so
// ids stay unique. p.mu is held.
func (p *Platform) idFor(typ, key string, taken func(id string) bool) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	n := h.Sum32() % 10000000
	for {
		id := p.Domain + typ + fmt.Sprintf("%07d", n)
		if !taken(id) {
			return id
		}
		n = (n + 1) % 10000000
	}
}

// randomPassword is 16 letters and digits: what every device accepts, and
// about 95 bits.
func randomPassword() (string, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

func (p *Platform) isOnline(id string) bool {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.devices[id]
	return d != nil && p.online(d, now)
}

// startMints INVITEs every minted channel of a device that just registered
// and has no call up.
func (p *Platform) startMints(deviceID string) {
	p.mu.Lock()
	var ms []*mint
	for _, m := range p.mints {
		if m.agentID == deviceID && !m.revoked {
			ms = append(ms, m)
		}
	}
	p.mu.Unlock()
	for _, m := range ms {
		p.startMint(m)
	}
}

// startMint INVITEs the channel of m, unless a call is up already.
func (p *Platform) startMint(m *mint) {
	ctx, cancel := context.WithTimeout(p.ctx, p.InviteTimeout)
	defer cancel()
	p.mu.Lock()
	busy := m.revoked || m.cancel != nil || (m.session != nil && !isDone(m.session))
	if !busy {
		m.cancel = cancel
	}
	p.mu.Unlock()
	if busy {
		return
	}
	defer func() {
		p.mu.Lock()
		m.cancel = nil
		p.mu.Unlock()
	}()
	s, err := p.Invite(ctx, m.agentID, m.channelID, p.PushTransport, WithPath(m.path))
	if err != nil {
		p.Log.Warn("GB28181 INVITE for a minted push failed", "path", m.path, "agent", m.agentID, "error", err)
		return
	}
	p.mu.Lock()
	revoked := m.revoked
	if !revoked {
		m.session = s
	}
	p.mu.Unlock()
	if revoked {
		bctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.Bye(bctx)
		cancel()
		return
	}
	p.wg.Add(1)
	go func() { defer p.wg.Done(); p.retryMint(m, s) }()
}

// mintRetryDelay is the pause before a minted push whose call ended (media
// timeout, BYE from the device) is INVITEd again while the device stays
// registered.
const mintRetryDelay = 2 * time.Second

func (p *Platform) retryMint(m *mint, s *Session) {
	select {
	case <-s.Done():
	case <-p.ctx.Done():
		return
	}
	if errors.Is(s.Err(), ErrReplaced) || errors.Is(s.Err(), errClosed) {
		return
	}
	t := time.NewTimer(mintRetryDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.ctx.Done():
		return
	}
	if p.isOnline(m.agentID) {
		p.startMint(m)
	}
}

func isDone(s *Session) bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// revokeMint ends a minted push: BYE to a call that is up, and the
// password goes when no other mint of the agent needs it.
func (p *Platform) revokeMint(m *mint) {
	p.mu.Lock()
	if m.revoked {
		p.mu.Unlock()
		return
	}
	m.revoked = true
	if p.mints[m.path] == m {
		delete(p.mints, m.path)
	}
	if m.cancel != nil {
		m.cancel()
	}
	shared := false
	for _, o := range p.mints {
		if o.agentID == m.agentID {
			shared = true
		}
	}
	var ev DeviceEvent
	if !shared {
		// The agent's credentials die with its last push: the password
		// goes, the registration is dropped and the id is refused from
		// now on.
		if p.passwords[m.agentID] == m.password {
			delete(p.passwords, m.agentID)
		}
		p.revokeAgent(m.agentID)
		if d := p.devices[m.agentID]; d != nil {
			d.registered, d.expires = false, p.now()
			ev = p.markOffline(d, "revoked")
		}
	}
	s := m.session
	p.mu.Unlock()
	p.deviceEvent(ev)
	if s == nil {
		s = p.sessionFor(m.agentID, m.channelID)
	}
	if s != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.Bye(ctx)
		cancel()
	}
	p.Log.Info("GB28181 push revoked", "path", m.path, "agent", m.agentID)
}

// maxRevoked bounds the memory of revoked agent ids; the oldest are
// forgotten first. An id is never minted again while remembered, and ids
// are random, so forgetting one is harmless.
const maxRevoked = 4096

// revokeAgent refuses agentID from now on; p.mu is held.
func (p *Platform) revokeAgent(id string) {
	if len(p.revoked) >= maxRevoked {
		var oldest string
		var at time.Time
		for k, t := range p.revoked {
			if oldest == "" || t.Before(at) {
				oldest, at = k, t
			}
		}
		delete(p.revoked, oldest)
	}
	p.revoked[id] = p.now()
}

// isRevoked tells whether id belonged to a push that was revoked; p.mu is
// held.
func (p *Platform) isRevoked(id string) bool {
	_, ok := p.revoked[id]
	return ok
}
