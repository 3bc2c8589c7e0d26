package cascade

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/skyrelay/skyrelay/gb28181/manscdp"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// subscribe sends a SUBSCRIBE and returns the answer.
func (up *upper) subscribe(ctx context.Context, body string, expires int, to *sip.ToHeader, callID string) *sip.Response {
	up.t.Helper()
	req := up.request(sip.SUBSCRIBE, lowerID)
	if to != nil {
		req.ReplaceHeader(to)
		cid := sip.CallIDHeader(callID)
		req.AppendHeader(&cid)
	}
	req.AppendHeader(sip.NewHeader("Event", "Catalog;id=4711"))
	e := sip.ExpiresHeader(expires)
	req.AppendHeader(&e)
	req.AppendHeader(sip.NewHeader("Content-Type", manscdp.ContentType))
	req.SetBody([]byte(body))
	return up.do(ctx, req)
}

// TestCatalogSubscribe: a Catalog SUBSCRIBE gets 200 with a To tag, then
// NOTIFYs in its dialog as channels come (ADD), go (DEL) and change state
// (OFF); Expires 0 ends it.
func TestCatalogSubscribe(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	hub := newHub(t)
	dji := newFakeDJI()
	up := newUpper(t, "udp", false)
	u := newLower(t, up, hub, func(u *Upstream) { u.Devices = dji })
	up.next(ctx, "REGISTER", isMethod(sip.REGISTER))
	res := up.subscribe(ctx, "<Query><CmdType>Catalog</CmdType><SN>5</SN><DeviceID>"+lowerID+"</DeviceID></Query>", 60, nil, "")
	tag, _ := res.To().Params.Get("tag")
	if res.StatusCode != 200 || tag == "" || res.GetHeader("Expires").Value() != "60" || !strings.Contains(string(res.Body()), "<Result>OK</Result>") {
		t.Fatalf("SUBSCRIBE answer %d %s", res.StatusCode, res)
	}
	callID := res.CallID().Value()
	inDialog := func(r *sip.Request) bool {
		ft, _ := r.From().Params.Get("tag")
		return r.Method == sip.NOTIFY && r.CallID().Value() == callID && ft == tag
	}
	notify := func(what string) *manscdp.Message {
		r := up.next(ctx, what, inDialog)
		if st := r.GetHeader("Subscription-State"); st == nil || !strings.HasPrefix(st.Value(), "active") {
			t.Fatalf("Subscription-State %v", st)
		}
		if ev := r.GetHeader("Event"); ev == nil || ev.Value() != "Catalog;id=4711" {
			t.Fatalf("Event %v", ev)
		}
		m, err := manscdp.Decode(r.Body())
		if err != nil || !m.Is("Notify", "Catalog") || m.SumNum != m.DeviceList.Num {
			t.Fatalf("NOTIFY %s (%v)", r.Body(), err)
		}
		return m
	}
	publishClip(t, hub, "live/new")
	m := notify("ADD")
	if !strings.Contains(string(m.DeviceList.Items[0].Name), "live/new") || !strings.Contains(string(up.lastBody), "<Event>ADD</Event>") {
		t.Fatalf("ADD notify %s", up.lastBody)
	}
	dji.setOnline("AC1", false)
	for i := 0; i < 3; i++ { // the aircraft and its two cameras, one per NOTIFY over UDP
		m = notify("OFF")
		if len(m.Items()) != 1 || !strings.Contains(string(up.lastBody), "<Event>OFF</Event>") {
			t.Fatalf("OFF notify %s", up.lastBody)
		}
	}
	hub.Stream("live/new") // still there
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: lowerID, Host: "3402000000"}, Params: sip.NewParams()}
	to.Params.Add("tag", tag)
	if res := up.subscribe(ctx, "", 0, to, callID); res.StatusCode != 200 {
		t.Fatalf("unsubscribe: %d", res.StatusCode)
	}
	r := up.next(ctx, "terminated", inDialog)
	if st := r.GetHeader("Subscription-State"); st == nil || !strings.HasPrefix(st.Value(), "terminated") {
		t.Fatalf("last NOTIFY state %v", st)
	}
	if n := u.Info().Subscriptions; n != 0 {
		t.Fatalf("%d subscriptions left", n)
	}
	// A refresh for a dialog we do not have: 481. A body we cannot read: 400.
	to.Params.Add("tag", "nope")
	if res := up.subscribe(ctx, "", 60, to, "other"); res.StatusCode != 481 {
		t.Fatalf("unknown dialog refresh: %d", res.StatusCode)
	}
	if res := up.subscribe(ctx, "<Query", 60, nil, ""); res.StatusCode != 400 {
		t.Fatalf("bad body: %d", res.StatusCode)
	}
	if res := up.subscribe(ctx, "<Query><CmdType>Alarm</CmdType><SN>1</SN></Query>", 60, nil, ""); res.StatusCode != 489 {
		t.Fatalf("Alarm subscription: %d", res.StatusCode)
	}
}

// TestMobilePosition: a MobilePosition SUBSCRIBE with Interval 1 gets
// NOTIFYs with the aircraft's OSD position in GB units.
func TestMobilePosition(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	dji := newFakeDJI()
	up := newUpper(t, "tcp", false)
	u := newLower(t, up, newHub(t), func(u *Upstream) { u.Devices, u.Positions = dji, dji })
	up.next(ctx, "REGISTER", isMethod(sip.REGISTER))
	start := time.Now()
	res := up.subscribe(ctx, "<Query><CmdType>MobilePosition</CmdType><SN>7</SN><DeviceID>"+lowerID+"</DeviceID><Interval>1</Interval></Query>", 60, nil, "")
	if res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %d", res.StatusCode)
	}
	ids := map[string]bool{}
	for _, c := range u.ChannelList() {
		if strings.HasPrefix(c.Path, "AC1/") || c.Path == "" && strings.Contains(c.Name, "aircraft") {
			ids[c.ID] = true
		}
	}
	seen := map[string]bool{}
	var last *sip.Request
	for len(seen) < len(ids) {
		last = up.next(ctx, "position NOTIFY", isCmd(sip.NOTIFY, "MobilePosition"))
		m, err := manscdp.Decode(last.Body())
		if err != nil || !ids[m.DeviceID] {
			t.Fatalf("position for %q (%v); want one of %v", m.DeviceID, err, ids)
		}
		seen[m.DeviceID] = true
	}
	b := string(last.Body())
	for _, want := range []string{"<Longitude>117.2272000</Longitude>", "<Latitude>31.8206000</Latitude>", "<Speed>36.0</Speed>", "<Direction>270.0</Direction>", "<Altitude>120.0</Altitude>"} {
		if !strings.Contains(b, want) {
			t.Fatalf("position NOTIFY lacks %s: %s", want, b)
		}
	}
	// The next round comes about one interval later.
	up.next(ctx, "second round", isCmd(sip.NOTIFY, "MobilePosition"))
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("second round after %v, want about 1 s", d)
	}
}
