package cascade

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// errForgotten is a keepalive the upstream refused: it restarted and no
// longer knows us, or dropped us as offline.
var errForgotten = errors.New("cascade: the upstream no longer knows us")

// run registers, refreshes the registration at 80 % of its lifetime and
// sends keepalives, until Close; then it unregisters.
func (u *Upstream) run() {
	defer close(u.done)
	backoff := time.Duration(0)
	for {
		if backoff > 0 {
			select {
			case <-u.ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
		granted, err := u.registerFresh()
		if err != nil {
			if u.ctx.Err() != nil {
				return
			}
			u.stats.registerFailures.Add(1)
			u.setState(StateOffline, err)
			backoff = min(max(backoff*2, u.RetryMin), u.RetryMax)
			u.Log.Warn("GB28181 upstream registration failed", "error", err, "retry_in", backoff)
			continue
		}
		u.setState(StateRegistered, nil)
		u.Log.Info("GB28181 upstream registered", "expires", granted)
		err = u.online(granted)
		if u.ctx.Err() != nil {
			u.unregister()
			return
		}
		// Offline: the upstream's subscriptions and calls are gone with it.
		u.setState(StateOffline, err)
		u.endAll(err)
		u.Log.Warn("GB28181 upstream offline, registering again", "error", err)
		backoff = 0
		if !errors.Is(err, errForgotten) {
			backoff = u.RetryMin
		}
	}
}

// online keeps a registration alive until it fails or Close.
func (u *Upstream) online(granted time.Duration) error {
	refresh := time.NewTimer(granted * 4 / 5)
	defer refresh.Stop()
	ka := time.NewTicker(u.KeepaliveInterval)
	defer ka.Stop()
	missed := 0
	for {
		select {
		case <-u.ctx.Done():
			return u.ctx.Err()
		case <-refresh.C:
			g, err := u.register(int(u.RegisterExpires / time.Second))
			if err != nil {
				return fmt.Errorf("registration refresh: %w", err)
			}
			refresh.Reset(g * 4 / 5)
		case <-ka.C:
			code, err := u.keepalive()
			switch {
			case err == nil && code == 200:
				missed = 0
				u.stats.keepalives.Add(1)
			case code == 401 || code == 403 || code == 404 || code == 481:
				u.stats.keepaliveFailures.Add(1)
				return fmt.Errorf("%w: keepalive answered %d", errForgotten, code)
			default:
				u.stats.keepaliveFailures.Add(1)
				if missed++; missed >= MissedKeepalives {
					return fmt.Errorf("%d keepalives unanswered (last: %v)", missed, errOrCode(err, code))
				}
			}
		}
	}
}

func errOrCode(err error, code int) any {
	if err != nil {
		return err
	}
	return code
}

// registerFresh registers with a new Call-ID: the first registration, or
// after the upstream lost us.
func (u *Upstream) registerFresh() (time.Duration, error) {
	u.mu.Lock()
	u.callID = sip.GenerateTagN(24)
	u.fromTag = sip.GenerateTagN(12)
	u.mu.Unlock()
	return u.register(int(u.RegisterExpires / time.Second))
}

func (u *Upstream) unregister() {
	ctx, cancel := context.WithTimeout(context.Background(), u.RequestTimeout)
	defer cancel()
	if _, err := u.registerCtx(ctx, 0); err != nil {
		u.Log.Info("GB28181 upstream unregister not confirmed", "error", err)
	}
}

func (u *Upstream) register(expires int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(u.ctx, u.RequestTimeout)
	defer cancel()
	return u.registerCtx(ctx, expires)
}

// registerCtx sends REGISTER (GB/T 28181-2016 §9.1.2.1): From and To are our
// id at our domain, the Request-URI the upstream's id at its address; a
// 401 or 407 is answered with MD5 digest, qop=auth or not as challenged.
// It returns the lifetime the upstream granted.
func (u *Upstream) registerCtx(ctx context.Context, expires int) (time.Duration, error) {
	u.stats.registers.Add(1)
	u.mu.Lock()
	u.cseq++
	callID, tag, cseq := u.callID, u.fromTag, u.cseq
	u.mu.Unlock()
	req := sip.NewRequest(sip.REGISTER, u.upstreamURI(u.ServerID))
	our := sip.Uri{Scheme: "sip", User: u.gwID, Host: u.gwID[:10]}
	from := &sip.FromHeader{Address: our, Params: sip.NewParams()}
	from.Params.Add("tag", tag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: our})
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.REGISTER})
	req.AppendHeader(&sip.ContactHeader{Address: u.contactURI()})
	e := sip.ExpiresHeader(expires)
	req.AppendHeader(&e)
	req.AppendHeader(sip.NewHeader("User-Agent", "Skyrelay"))
	u.address(req)
	res, err := u.cli.Do(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("REGISTER: %w", err)
	}
	if res.StatusCode == 401 || res.StatusCode == 407 {
		res, err = u.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: u.gwID, Password: u.Password})
		u.mu.Lock()
		if c := req.CSeq(); c != nil && c.SeqNo > u.cseq {
			u.cseq = c.SeqNo
		}
		u.mu.Unlock()
		if err != nil {
			return 0, fmt.Errorf("REGISTER with credentials: %w", err)
		}
		if res.StatusCode == 401 || res.StatusCode == 407 {
			return 0, fmt.Errorf("REGISTER: credentials refused (%d %s)", res.StatusCode, res.Reason)
		}
	}
	if res.StatusCode != 200 {
		return 0, fmt.Errorf("REGISTER answered %d %s", res.StatusCode, res.Reason)
	}
	granted := time.Duration(expires) * time.Second
	if h := res.GetHeader("Expires"); h != nil {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(h.Value()), &n); err == nil && n > 0 {
			granted = time.Duration(n) * time.Second
		}
	}
	if granted < time.Second && expires > 0 {
		granted = time.Second
	}
	return granted, nil
}

// upstreamURI is sip:user@the upstream's address.
func (u *Upstream) upstreamURI(user string) sip.Uri {
	host, port, _ := sip.ParseAddr(u.Address)
	return sip.Uri{Scheme: "sip", User: user, Host: host, Port: port}
}

// address sends req to the upstream over its transport.
func (u *Upstream) address(req *sip.Request) {
	req.SetTransport(strings.ToUpper(u.Transport))
	req.SetDestination(u.Address)
}

// keepalive sends one Keepalive MESSAGE and returns the answer code.
func (u *Upstream) keepalive() (int, error) {
	body := encodeMessage(&message{XMLName: root("Notify"), CmdType: "Keepalive", SN: u.nextSN(), DeviceID: u.gwID, Status: "OK"}, charsetGB2312)
	code, err := u.sendMessage(u.ctx, body)
	u.mu.Lock()
	if err == nil {
		u.lastKA, u.lastKACode = time.Now(), code
	}
	u.mu.Unlock()
	return code, err
}

func (u *Upstream) nextSN() string { return fmt.Sprint(u.sn.Add(1)) }

// sendMessage sends a MANSCDP MESSAGE to the upstream and returns its
// answer code.
func (u *Upstream) sendMessage(ctx context.Context, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, u.RequestTimeout)
	defer cancel()
	req := sip.NewRequest(sip.MESSAGE, u.upstreamURI(u.ServerID))
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: u.gwID, Host: u.gwID[:10]}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(12))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: u.ServerID, Host: u.domain}})
	req.AppendHeader(sip.NewHeader("Content-Type", contentTypeMANSCDP))
	req.AppendHeader(sip.NewHeader("User-Agent", "Skyrelay"))
	req.SetBody(body)
	u.address(req)
	res, err := u.cli.Do(ctx, req)
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}

const contentTypeMANSCDP = "Application/MANSCDP+xml"
