package cascade

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Subscription lifetimes when the SUBSCRIBE names none (Annex P: 600 s),
// and the bounds we accept.
const (
	defaultSubscribeExpires = 600 * time.Second
	minSubscribeExpires     = 1 * time.Second
	maxSubscribeExpires     = 24 * time.Hour
	catalogPoll             = time.Second
)

// subscription is one SUBSCRIBE dialog: Catalog (NOTIFY on changes) or
// MobilePosition (NOTIFY every Interval).
type subscription struct {
	u         *Upstream
	kind      string // Catalog or MobilePosition
	callID    string
	localTag  string
	event     string
	charset   string
	target    sip.Uri // the subscriber's Contact
	source    string  // where its requests come from (NAT)
	transport string
	ours      sip.Uri // our URI (the SUBSCRIBE's To)
	theirs    *sip.ToHeader
	interval  time.Duration

	mu      sync.Mutex
	expires time.Time
	cseq    uint32
	last    []channel // what the subscriber last heard of (Catalog)
	sent    int

	quit     chan struct{}
	quitOnce sync.Once
}

func (x *subscription) stop() { x.quitOnce.Do(func() { close(x.quit) }) }

// onSubscribe accepts Catalog and MobilePosition subscriptions (Annex P,
// A.2.4 h); a SUBSCRIBE in an existing dialog refreshes it, Expires 0 ends
// it.
func (u *Upstream) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	expires := defaultSubscribeExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || n < 0 {
			u.stats.badRequests.Add(1)
			u.respond(tx, req, 400, "Bad Request")
			return
		}
		expires = time.Duration(n) * time.Second
	}
	expires = min(expires, maxSubscribeExpires)
	callID := req.CallID().Value()
	if tag, ok := req.To().Params.Get("tag"); ok && tag != "" {
		u.mu.Lock()
		x := u.subs[callID]
		u.mu.Unlock()
		if x == nil || x.localTag != tag {
			u.respond(tx, req, 481, "Call/Transaction Does Not Exist")
			return
		}
		x.mu.Lock()
		x.expires = time.Now().Add(expires)
		x.mu.Unlock()
		u.subscribeOK(req, tx, x, expires)
		if expires < minSubscribeExpires {
			x.stop()
		}
		return
	}
	r, err := parseRequest(req.Body())
	if err != nil {
		u.stats.badRequests.Add(1)
		u.respond(tx, req, 400, "Bad Request")
		return
	}
	kind := ""
	switch strings.ToLower(r.CmdType) {
	case "catalog":
		kind = "Catalog"
	case "mobileposition":
		kind = "MobilePosition"
	default:
		u.respond(tx, req, 489, "Bad Event")
		return
	}
	x := &subscription{u: u, kind: kind, callID: callID, localTag: sip.GenerateTagN(12), charset: r.Charset,
		source: req.Source(), transport: req.Transport(), ours: req.To().Address, theirs: asTo(req.From()),
		expires: time.Now().Add(expires), quit: make(chan struct{})}
	if h := req.GetHeader("Event"); h != nil {
		x.event = h.Value()
	} else {
		x.event = kind
	}
	x.target = req.From().Address
	if c := req.Contact(); c != nil {
		x.target = c.Address
	}
	if kind == "MobilePosition" {
		sec, _ := strconv.Atoi(r.Interval)
		if sec <= 0 {
			sec = 5 // A.2.4 h: default 5 s
		}
		x.interval = time.Duration(min(sec, 3600)) * time.Second
	}
	if kind == "Catalog" {
		x.last = u.catalog() // changes count from the moment of the 200
	}
	u.subscribeOK(req, tx, x, expires)
	if expires < minSubscribeExpires {
		return
	}
	u.mu.Lock()
	if old := u.subs[callID]; old != nil {
		old.stop()
	}
	u.subs[callID] = x
	u.mu.Unlock()
	u.wg.Add(1)
	go func() { defer u.wg.Done(); x.run() }()
}

func (u *Upstream) subscribeOK(req *sip.Request, tx sip.ServerTransaction, x *subscription, expires time.Duration) {
	body := encodeMessage(&message{XMLName: root("Response"), CmdType: x.kind, SN: "0", DeviceID: u.gwID, Result: "OK"}, x.charset)
	if r, err := parseRequest(req.Body()); err == nil {
		body = encodeMessage(&message{XMLName: root("Response"), CmdType: x.kind, SN: r.SN, DeviceID: u.gwID, Result: "OK"}, x.charset)
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", body)
	if to := res.To(); to != nil {
		to.Params.Add("tag", x.localTag) // sipgo made one up: the dialog's is ours
	}
	e := sip.ExpiresHeader(int(expires / time.Second))
	res.AppendHeader(&e)
	res.AppendHeader(sip.NewHeader("Event", x.event))
	res.AppendHeader(sip.NewHeader("Content-Type", contentTypeMANSCDP))
	res.AppendHeader(&sip.ContactHeader{Address: u.contactURI()})
	if err := tx.Respond(res); err != nil {
		u.Log.Debug("SUBSCRIBE answer not sent", "error", err)
	}
}

// run sends NOTIFYs until the subscription expires, is ended or the
// upstream goes offline.
func (x *subscription) run() {
	defer x.remove()
	every := catalogPoll
	if x.kind == "MobilePosition" {
		every = x.interval
	} else {
		// Right after subscribing the upstream hears of what is off (P.3);
		// from then on, of every change.
		var off []catalogEvent
		for _, c := range x.last {
			if !c.Online {
				off = append(off, catalogEvent{c, "OFF"})
			}
		}
		x.notifyCatalog(off)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-x.quit:
			x.remove()
			x.terminate()
			return
		case <-x.u.ctx.Done():
			return
		case <-t.C:
		}
		x.mu.Lock()
		left := time.Until(x.expires)
		x.mu.Unlock()
		if left <= 0 {
			return
		}
		if x.kind == "Catalog" {
			cur := x.u.catalog()
			ev := diffCatalog(x.last, cur)
			x.last = cur
			x.notifyCatalog(ev)
		} else {
			x.notifyPositions()
		}
	}
}

// notifyCatalog sends change events, CatalogGroup per NOTIFY; in a
// NOTIFY SumNum equals Num (Annex P.4.2.2).
func (x *subscription) notifyCatalog(ev []catalogEvent) {
	for i := 0; i < len(ev); i += x.u.CatalogGroup {
		part := ev[i:min(i+x.u.CatalogGroup, len(ev))]
		items := make([]item, len(part))
		for j, e := range part {
			items[j] = x.u.fit(e.eventItem(x.u.Positions))
		}
		m := &message{XMLName: root("Notify"), CmdType: "Catalog", SN: x.u.nextSN(), DeviceID: x.u.gwID,
			SumNum: strconv.Itoa(len(items)), DeviceList: &deviceList{Num: len(items), Items: items}}
		if err := x.notify(encodeMessage(m, x.charset), "active"); err != nil {
			x.u.Log.Info("GB28181 upstream catalog NOTIFY not taken", "error", err)
			return
		}
	}
}

// notifyPositions sends the position of every DJI channel whose device
// has one (A.2.5.7): degrees, km/h, degrees from north, metres.
func (x *subscription) notifyPositions() {
	if x.u.Positions == nil {
		return
	}
	for _, c := range x.u.catalog() {
		if c.SN == "" {
			continue
		}
		p, ok := x.u.Positions.Position(c.SN)
		if !ok {
			continue
		}
		dir := p.Heading
		if dir < 0 {
			dir += 360
		}
		tm := p.Time
		if tm.IsZero() {
			tm = time.Now()
		}
		m := &message{XMLName: root("Notify"), CmdType: "MobilePosition", SN: x.u.nextSN(), DeviceID: c.ID,
			Time: localTime(tm), Longitude: coord(p.Longitude), Latitude: coord(p.Latitude),
			Speed: strconv.FormatFloat(p.Speed*3.6, 'f', 1, 64), Direction: strconv.FormatFloat(dir, 'f', 1, 64),
			Altitude: strconv.FormatFloat(p.Altitude, 'f', 1, 64)}
		if err := x.notify(encodeMessage(m, x.charset), "active"); err != nil {
			x.u.Log.Info("GB28181 upstream position NOTIFY not taken", "error", err)
			return
		}
	}
}

func (x *subscription) remove() {
	x.u.mu.Lock()
	if x.u.subs[x.callID] == x {
		delete(x.u.subs, x.callID)
	}
	x.u.mu.Unlock()
}

func (x *subscription) terminate() {
	_ = x.notify(nil, "terminated;reason=timeout")
}

// notify sends one NOTIFY in the subscription's dialog.
func (x *subscription) notify(body []byte, state string) error {
	x.mu.Lock()
	x.cseq++
	cseq := x.cseq
	left := max(int(time.Until(x.expires)/time.Second), 0)
	x.mu.Unlock()
	req := sip.NewRequest(sip.NOTIFY, x.target)
	from := &sip.FromHeader{Address: x.ours, Params: sip.NewParams()}
	from.Params.Add("tag", x.localTag)
	req.AppendHeader(from)
	to := x.theirs
	req.AppendHeader(to)
	cid := sip.CallIDHeader(x.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.NOTIFY})
	req.AppendHeader(sip.NewHeader("Event", x.event))
	if state == "active" {
		state = fmt.Sprintf("active;expires=%d", left)
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(&sip.ContactHeader{Address: x.u.contactURI()})
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", contentTypeMANSCDP))
		req.SetBody(body)
	}
	req.SetTransport(strings.ToUpper(x.transport))
	req.SetDestination(x.source)
	ctx, cancel := context.WithTimeout(x.u.ctx, x.u.RequestTimeout)
	defer cancel()
	res, err := x.u.cli.Do(ctx, req)
	x.u.stats.notifies.Add(1)
	if err != nil {
		return err
	}
	if res.StatusCode == 481 {
		x.stop() // the subscriber forgot the dialog
	}
	if !res.IsSuccess() {
		return fmt.Errorf("NOTIFY answered %d", res.StatusCode)
	}
	x.mu.Lock()
	x.sent++
	x.mu.Unlock()
	return nil
}

func asTo(f *sip.FromHeader) *sip.ToHeader {
	t := f.AsTo()
	return &t
}
