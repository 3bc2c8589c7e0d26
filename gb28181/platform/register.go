package platform

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Registration lifetimes (seconds): what a REGISTER without Expires gets,
// and the bounds a requested one is clamped to.
const (
	defaultExpires = 3600
	minExpires     = 30
	maxExpires     = 86400
)

// dateLayout is the Date header of the REGISTER 200 that devices set their
// clock from (GB/T 28181-2016 §9.10.1: "校时").
const dateLayout = "2006-01-02T15:04:05.000"

// onRegister handles REGISTER (GB/T 28181-2016 §9.1): a 401 challenge,
// then the digest check, then 200 with Date; Expires 0 unregisters.
func (p *Platform) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	p.metrics.registers.Add(1)
	from := req.From()
	if from == nil || !validID(from.Address.User) {
		p.metrics.registerFailures.Add(1)
		p.respond(tx, req, 400, "Bad Request")
		return
	}
	id := from.Address.User
	now := p.now()
	p.mu.Lock()
	pw := p.passwordFor(id)
	revoked := p.isRevoked(id)
	p.mu.Unlock()
	if revoked {
		p.metrics.registerFailures.Add(1)
		p.Log.Warn("GB28181 device refused: its push was revoked", "device", id, "remote", req.Source())
		p.respond(tx, req, 403, "Forbidden")
		return
	}
	if pw == "" {
		p.metrics.registerFailures.Add(1)
		p.Log.Warn("GB28181 device refused: no password for it (set gb28181.password or mint one)", "device", id, "remote", req.Source())
		p.respond(tx, req, 403, "Forbidden")
		return
	}
	authz := ""
	if h := req.GetHeader("Authorization"); h != nil {
		authz = h.Value()
	}
	_, err := p.nonces.verifyDigest(authz, "REGISTER", pw, now)
	switch {
	case err == nil:
	case errors.Is(err, errNoCredentials), errors.Is(err, errForeignNonce), errors.Is(err, errStaleNonce):
		// First contact, a nonce of an earlier run, or a late answer: challenge.
		stale := errors.Is(err, errStaleNonce)
		p.respond(tx, req, 401, "Unauthorized",
			sip.NewHeader("WWW-Authenticate", challenge(p.Domain, p.nonces.make(now), p.DigestQOP, stale)))
		return
	default:
		p.metrics.registerFailures.Add(1)
		p.Log.Warn("GB28181 device refused", "device", id, "remote", req.Source(), "reason", err.Error())
		p.respond(tx, req, 403, "Forbidden")
		return
	}

	expires := requestedExpires(req)
	if expires == 0 {
		p.unregister(id, req)
		p.respond(tx, req, 200, "OK", dateHeader(now), expiresHeader(0))
		return
	}
	expires = min(max(expires, minExpires), maxExpires)
	fresh, ev := p.register(id, req, now, time.Duration(expires)*time.Second)
	p.deviceEvent(ev)
	hdrs := []sip.Header{dateHeader(now), expiresHeader(expires)}
	if c := req.Contact(); c != nil {
		hdrs = append(hdrs, sip.HeaderClone(c))
	}
	p.respond(tx, req, 200, "OK", hdrs...)
	if fresh {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.afterRegister(id)
		}()
	}
}

// register records a successful REGISTER and tells whether it is a new
// registration rather than a refresh.
func (p *Platform) register(id string, req *sip.Request, now time.Time, expires time.Duration) (bool, DeviceEvent) {
	callID := ""
	if c := req.CallID(); c != nil {
		callID = c.Value()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.devices[id]
	fresh := d == nil || !p.online(d, now) || d.callID != callID
	if d == nil {
		d = &device{id: id, channels: map[string]Channel{}}
		p.devices[id] = d
	}
	d.touch(req.Source(), strings.ToUpper(req.Transport()), now, true)
	if c := req.Contact(); c != nil {
		d.contact = c.Address.String()
	}
	if fresh {
		d.registeredAt = now
	}
	d.registered, d.callID, d.expires = true, callID, now.Add(expires)
	if fresh {
		p.Log.Info("GB28181 device registered", "device", id, "remote", d.source, "transport", d.transport, "expires", expires)
	}
	return fresh, p.markOnline(d, "registered")
}

func (p *Platform) unregister(id string, req *sip.Request) {
	p.mu.Lock()
	d := p.devices[id]
	var ev DeviceEvent
	if d != nil {
		d.registered = false
		d.expires = p.now()
		ev = p.markOffline(d, "unregistered")
	}
	p.mu.Unlock()
	p.Log.Info("GB28181 device unregistered", "device", id, "remote", req.Source())
	p.deviceEvent(ev)
}

// afterRegister asks a newly registered device for its catalog and details,
// then tells the OnRegister hook. Queries wait for the device's 200 one
// after the other, which keeps the exchange in an order scripted peers can
// follow.
func (p *Platform) afterRegister(id string) {
	if p.OnRegister != nil {
		defer p.OnRegister(id)
	}
	// A minted push (the DJI flow) gets its INVITE first: the operator is
	// waiting for video, and the queries may take a while to be answered.
	p.startMints(id)
	ctx, cancel := context.WithTimeout(p.ctx, p.InviteTimeout)
	defer cancel()
	if err := p.query(ctx, id, "Catalog"); err != nil {
		p.Log.Warn("GB28181 catalog query failed", "device", id, "error", err)
		return
	}
	if err := p.query(ctx, id, "DeviceInfo"); err != nil {
		p.Log.Warn("GB28181 device info query failed", "device", id, "error", err)
	}
}

// requestedExpires reads Expires, or the Contact's expires parameter.
func requestedExpires(req *sip.Request) int {
	if h := req.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n >= 0 {
			return n
		}
	}
	if c := req.Contact(); c != nil {
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return n
			}
		}
	}
	return defaultExpires
}

func dateHeader(now time.Time) sip.Header {
	return sip.NewHeader("Date", now.Format(dateLayout))
}

func expiresHeader(n int) sip.Header {
	e := sip.ExpiresHeader(n)
	return &e
}

// validID accepts GB ids and what devices use in their place: letters and
// digits, at most 64 of them. It keeps ids safe to put back into headers.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
