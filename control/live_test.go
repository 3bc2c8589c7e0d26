package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// fakeDock is a Dock 3 played by mosquitto_pub/mosquitto_sub: it announces
// itself and its cameras and answers services as script says.
type fakeDock struct {
	t     testing.TB
	peer  mqttPeer
	gw    string
	air   string
	cmds  chan mqttMsg // every services message received
	mu    sync.Mutex
	reply map[string][]int // method -> results to answer, in turn; the last one repeats; -999 = stay silent
}

func newFakeDock(t testing.TB, tp *testPlane, ev *sseClient, version, gw, air string) *fakeDock {
	t.Helper()
	d := &fakeDock{t: t, peer: mqttPeer{port: tp.port(t), version: version}, gw: gw, air: air,
		cmds: make(chan mqttMsg, 64), reply: map[string][]int{}}
	services := d.peer.sub(t, "thing/product/"+gw+"/services")
	go func() {
		for m := range services.ch {
			d.cmds <- m
			method := m.str("method")
			d.mu.Lock()
			rs := d.reply[method]
			res := 0
			if len(rs) > 0 {
				res = rs[0]
				if len(rs) > 1 {
					d.reply[method] = rs[1:]
				}
			}
			d.mu.Unlock()
			if res == -999 {
				continue
			}
			out := fmt.Sprintf(`{"tid":%q,"bid":%q,"timestamp":%d,"method":%q,"data":{"result":%d,"output":{"echo":%q}}}`,
				m.str("tid"), m.str("bid"), time.Now().UnixMilli(), method, res, method)
			if err := d.peer.tryPub(t, "thing/product/"+gw+"/services_reply", out); err != nil {
				t.Error(err)
			}
		}
	}()
	d.peer.pub(t, "sys/product/"+gw+"/status", topoMsg(nextTID("topo"), gw, air))
	d.peer.pub(t, "thing/product/"+gw+"/state", msg(nextTID("cap"), "", dockCapacity(gw, air), map[string]any{"gateway": gw}))
	ev.await(t, "capacity of "+gw, func(e sseEvent) bool {
		return e.Type == EventState && e.SN == gw && strings.Contains(string(e.Data), "live_capacity")
	})
	return d
}

// answer sets the results the dock gives method, in turn.
func (d *fakeDock) answer(method string, results ...int) {
	d.mu.Lock()
	d.reply[method] = results
	d.mu.Unlock()
}

// next returns the next services message.
func (d *fakeDock) next(method string) mqttMsg {
	d.t.Helper()
	tm := time.NewTimer(within)
	defer tm.Stop()
	for {
		select {
		case m := <-d.cmds:
			if m.str("method") == method {
				return m
			}
		case <-tm.C:
			d.t.Fatalf("the dock received no %s within %s", method, within)
		}
	}
}

func (d *fakeDock) liveStatus(entries ...map[string]any) {
	d.peer.pub(d.t, "thing/product/"+d.gw+"/state", msg(nextTID("ls"), "", map[string]any{"live_status": entries}, map[string]any{"gateway": d.gw}))
}

type sessionBody struct {
	Session
	Error *struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		DeviceCode int    `json:"device_code"`
		Source     string `json:"source"`
	} `json:"error"`
}

// startAsync posts /api/v1/live in the background.
func (tp *testPlane) startAsync(t testing.TB, body string) chan struct {
	code int
	raw  json.RawMessage
} {
	ch := make(chan struct {
		code int
		raw  json.RawMessage
	}, 1)
	go func() {
		var raw json.RawMessage
		code := tp.do(t, "POST", "/api/v1/live", body, &raw)
		ch <- struct {
			code int
			raw  json.RawMessage
		}{code, raw}
	}()
	return ch
}

func TestLiveSessionRTMP(t *testing.T) {
	tp := startPlane(t, embeddedConfig(), fastConfig())
	ev := openSSE(t, tp.srv.URL)
	dock := newFakeDock(t, tp, ev, "mqttv5", "DOCKL", "AIRL")
	vid := "AIRL/99-0-0/normal-0"

	res := tp.startAsync(t, `{"video_id":"`+vid+`","quality":3}`)
	start := dock.next("live_start_push")
	sd := start.data()
	if cloudapi.String(sd["url_type"]) != "1" || cloudapi.String(sd["video_id"]) != vid || cloudapi.String(sd["video_quality"]) != "3" ||
		!strings.HasPrefix(cloudapi.String(sd["url"]), "rtmp://127.0.0.1:1935/"+vid+"?secret=") {
		t.Fatalf("live_start_push = %s", start.Raw)
	}
	bid := start.str("bid")
	ev.await(t, "device_accepted", sessionStep(vid, StepAccepted))
	dock.liveStatus(map[string]any{"video_id": vid, "video_type": "zoom", "video_quality": 3, "status": 1, "error_status": 0})
	ev.await(t, "media_arriving", sessionStep(vid, StepMediaArriving))
	tp.media.setReady(vid)
	r := <-res
	var s sessionBody
	_ = json.Unmarshal(r.raw, &s)
	if r.code != 201 || s.State != StepPlayable || s.Play.WHEP == "" || s.Path != vid || s.Protocol != "rtmp" || s.Lens != "zoom" {
		t.Fatalf("POST = %d %s", r.code, r.raw)
	}
	if strings.Contains(string(r.raw), "s3cret") {
		t.Fatalf("the push secret leaked into the API: %s", r.raw)
	}

	// Already live: 200, same body.
	var again sessionBody
	if code := tp.do(t, "POST", "/api/v1/live", `{"video_id":"`+vid+`"}`, &again); code != 200 || again.State != StepPlayable || again.Play != s.Play {
		t.Fatalf("second POST = %d %+v", code, again)
	}

	// PATCH quality, then lens: both keep the session's bid.
	var p sessionBody
	res2 := make(chan int, 1)
	go func() { res2 <- tp.do(t, "PATCH", "/api/v1/live/"+vid, `{"quality":1}`, &p) }()
	q := dock.next("live_set_quality")
	if q.str("bid") != bid || cloudapi.String(q.data()["video_quality"]) != "1" || cloudapi.String(q.data()["video_id"]) != vid {
		t.Fatalf("live_set_quality = %s", q.Raw)
	}
	if code := <-res2; code != 200 || p.Quality != 1 {
		t.Fatalf("PATCH quality = %d %+v", code, p)
	}
	go func() { res2 <- tp.do(t, "PATCH", "/api/v1/live/"+vid, `{"lens":"ir"}`, &p) }()
	l := dock.next("live_lens_change")
	if l.str("bid") != bid || cloudapi.String(l.data()["video_type"]) != "ir" || cloudapi.String(l.data()["video_id"]) != vid {
		t.Fatalf("live_lens_change = %s", l.Raw)
	}
	if code := <-res2; code != 200 || p.Lens != "ir" {
		t.Fatalf("PATCH lens = %d %+v", code, p)
	}
	var e apiErr
	if code := tp.do(t, "PATCH", "/api/v1/live/"+vid, `{"lens":"thermal"}`, &e); code != 400 {
		t.Fatalf("PATCH to a lens not in switchable_video_types = %d", code)
	}

	// GET /api/v1/live lists it.
	var list struct{ Items []Session }
	tp.do(t, "GET", "/api/v1/live", "", &list)
	if len(list.Items) != 1 || list.Items[0].State != StepPlayable {
		t.Fatalf("GET /api/v1/live = %+v", list)
	}

	// DELETE: live_stop_push, 204, secret revoked.
	go func() { res2 <- tp.do(t, "DELETE", "/api/v1/live/"+vid, "", nil) }()
	stop := dock.next("live_stop_push")
	if stop.str("bid") != bid || cloudapi.String(stop.data()["video_id"]) != vid {
		t.Fatalf("live_stop_push = %s", stop.Raw)
	}
	if code := <-res2; code != 204 {
		t.Fatalf("DELETE = %d", code)
	}
	if tp.media.revokedN(vid) != 1 {
		t.Fatalf("push secret revoked %d times", tp.media.revokedN(vid))
	}
	var got sessionBody
	tp.do(t, "GET", "/api/v1/live/"+vid, "", &got)
	if got.State != StepStopped || !strings.Contains(got.Reason, "API") {
		t.Fatalf("after DELETE: %+v", got)
	}
}

func TestLiveDeviceRefusal(t *testing.T) {
	tp := startPlane(t, embeddedConfig(), fastConfig())
	ev := openSSE(t, tp.srv.URL)
	dock := newFakeDock(t, tp, ev, "mqttv311", "DOCKR", "AIRR")
	vid := "DOCKR/165-0-7/normal-0"
	dock.answer("live_start_push", 513003)
	var e apiErr
	code := tp.do(t, "POST", "/api/v1/live", `{"video_id":"`+vid+`","protocol":"rtmp"}`, &e)
	if code != 502 || e.Error.Code != "device_error" || e.Error.DeviceCode != 513003 || e.Error.Source != "dock" || !strings.Contains(e.Error.Message, "already streaming") {
		t.Fatalf("refusal = %d %+v", code, e)
	}
	var s sessionBody
	tp.do(t, "GET", "/api/v1/live/"+vid, "", &s)
	if s.State != StepFailed || s.Error == nil || s.Error.DeviceCode != 513003 || s.Attempts != 1 {
		t.Fatalf("session after refusal: %+v", s)
	}
	if tp.media.revokedN(vid) != 1 {
		t.Fatal("the secret of a refused push was not revoked")
	}
	// An undocumented code still shows origin, module and number.
	dock.answer("live_start_push", 614321)
	code = tp.do(t, "POST", "/api/v1/live", `{"video_id":"`+vid+`"}`, &e)
	if code != 502 || e.Error.Source != "pilot" || !strings.Contains(e.Error.Message, "module 14") || !strings.Contains(e.Error.Message, "321") {
		t.Fatalf("unknown code = %d %+v", code, e)
	}
}

func TestLiveRetryAfterOnline(t *testing.T) {
	tp := startPlane(t, embeddedConfig(), fastConfig())
	ev := openSSE(t, tp.srv.URL)
	dock := newFakeDock(t, tp, ev, "mqttv5", "DOCKX", "AIRX")
	vid := "AIRX/176-0-0/normal-0"
	dock.answer("live_start_push", 513006, 513006, 0)
	tp.media.setReady(vid)
	var s sessionBody
	if code := tp.do(t, "POST", "/api/v1/live", `{"video_id":"`+vid+`"}`, &s); code != 201 {
		t.Fatalf("POST = %d %+v", code, s)
	}
	if s.Attempts != 3 || !strings.Contains(strings.Join(s.Notes, "\n"), "retry 2 of 3") {
		t.Fatalf("session = %+v", s)
	}
	bids := map[string]bool{}
	tids := map[string]bool{}
	for i := 0; i < 3; i++ {
		m := dock.next("live_start_push")
		bids[m.str("bid")] = true
		tids[m.str("tid")] = true
	}
	if len(bids) != 1 || len(tids) != 3 {
		t.Fatalf("retries must keep the bid and use fresh tids: bids %v tids %v", bids, tids)
	}

	// Bounded: start_retries (3) retries, then the refusal is final.
	tp.do(t, "DELETE", "/api/v1/live/"+vid, "", nil)
	dock.answer("live_start_push", 513006)
	var e apiErr
	if code := tp.do(t, "POST", "/api/v1/live", `{"video_id":"`+vid+`"}`, &e); code != 502 || e.Error.DeviceCode != 513006 || !strings.Contains(e.Error.Message, "after 4 attempts") {
		t.Fatalf("POST = %d %+v", code, e)
	}
}

func TestLiveTimeoutIsNotResent(t *testing.T) {
	c := fastConfig()
	c.ReplyTimeout = 300 * time.Millisecond
	tp := startPlane(t, embeddedConfig(), c)
	ev := openSSE(t, tp.srv.URL)
	dock := newFakeDock(t, tp, ev, "mqttv5", "DOCKT", "AIRT")
	vid := "AIRT/99-0-0/normal-0"
	dock.answer("live_start_push", -999)
	var e apiErr
	if code := tp.do(t, "POST", "/api/v1/live", `{"video_id":"`+vid+`"}`, &e); code != 504 || e.Error.Code != "timeout" || !strings.Contains(e.Error.Message, "not re-sent") {
		t.Fatalf("POST = %d %+v", code, e)
	}
	var s sessionBody
	tp.do(t, "GET", "/api/v1/live/"+vid, "", &s)
	if s.Attempts != 1 || s.State != StepFailed {
		t.Fatalf("session = %+v", s)
	}

	// No reply, but live_status shows the video live: a late success.
	dock.liveStatus(map[string]any{"video_id": vid, "video_type": "zoom", "video_quality": 0, "status": 1, "error_status": 0})
	ev.await(t, "live_status", func(e sseEvent) bool { return e.Type == EventState && strings.Contains(string(e.Data), "live_status") })
	tp.media.setReady(vid)
	if code := tp.do(t, "POST", "/api/v1/live", `{"video_id":"`+vid+`"}`, &s); code != 201 || !strings.Contains(strings.Join(s.Notes, "\n"), "without re-sending") {
		t.Fatalf("POST after a lost reply = %d %+v", code, s)
	}
}

func TestLiveBadRequests(t *testing.T) {
	tp := startPlane(t, embeddedConfig(), fastConfig())
	ev := openSSE(t, tp.srv.URL)
	newFakeDock(t, tp, ev, "mqttv5", "DOCKB", "AIRB")
	for _, c := range []struct {
		body string
		code int
		err  string
	}{
		{`{"video_id":"NOPE/1-0-0/normal-0"}`, 404, "unknown_video"},
		{`{"video_id":"AIRB/99-0-0/zoom-0"}`, 404, "unknown_video"},
		{`{"video_id":"AIRB/99-0-0/normal-0","protocol":"whip"}`, 501, "not_implemented"},
		{`{"video_id":"AIRB/99-0-0/normal-0","protocol":"gb28181"}`, 501, "not_implemented"},
		{`{"video_id":"AIRB/99-0-0/normal-0","protocol":"rtsp"}`, 501, "not_implemented"},
		{`{"video_id":"AIRB/99-0-0/normal-0","protocol":"agora"}`, 400, "bad_request"},
		{`{"video_id":"AIRB/99-0-0/normal-0","quality":9}`, 400, "bad_request"},
		{`{"video_id":"AIRB/99-0-0/normal-0","qualty":1}`, 400, "bad_request"},
		{`{"video_id":""}`, 400, "bad_request"},
		{`{`, 400, "bad_request"},
		{``, 400, "bad_request"},
		{`[]`, 400, "bad_request"},
		{`{"video_id":5}`, 400, "bad_request"},
	} {
		var e apiErr
		if code := tp.do(t, "POST", "/api/v1/live", c.body, &e); code != c.code || e.Error.Code != c.err {
			t.Errorf("POST %s = %d %+v, want %d %s", c.body, code, e, c.code, c.err)
		}
	}
	// StartOnDemand fails fast on a path that is no video_id.
	begin := time.Now()
	err := tp.StartOnDemand(t.Context(), "live/a")
	if !errors.Is(err, ErrUnknownVideo) || time.Since(begin) > time.Second {
		t.Fatalf("StartOnDemand(live/a) = %v after %s", err, time.Since(begin))
	}
}

// TestLiveSessionEnds: the device going offline, the camera leaving
// live_capacity and the device's own live_status end a session, with the
// reason in the API and in the event stream.
func TestLiveSessionEnds(t *testing.T) {
	c := fastConfig()
	c.OfflineAfter = 500 * time.Millisecond
	tp := startPlane(t, embeddedConfig(), c)
	tp.media.instant = true
	ev := openSSE(t, tp.srv.URL)
	dock := newFakeDock(t, tp, ev, "mqttv5", "DOCKE", "AIRE")
	keepAlive := func() {
		dock.peer.pub(t, "thing/product/DOCKE/osd", msg(nextTID("osd"), "", map[string]any{}, nil))
	}

	// Camera leaves live_capacity (aircraft powered off).
	air := "AIRE/99-0-0/normal-0"
	if code := tp.do(t, "POST", "/api/v1/live", `{"video_id":"`+air+`"}`, nil); code != 201 {
		t.Fatalf("POST = %d", code)
	}
	dock.peer.pub(t, "thing/product/DOCKE/state", msg(nextTID("cap"), "", dockCapacity("DOCKE", ""), nil))
	e := ev.await(t, "session stopped", sessionStep(air, StepStopped))
	if !strings.Contains(e.field("reason"), "live_capacity") {
		t.Fatalf("reason = %s", e.Data)
	}

	// The device reports the push broke.
	keepAlive()
	cam := "DOCKE/165-0-7/normal-0"
	if code := tp.do(t, "POST", "/api/v1/live", `{"video_id":"`+cam+`"}`, nil); code != 201 {
		t.Fatalf("POST = %d", code)
	}
	dock.liveStatus(map[string]any{"video_id": cam, "video_type": "normal", "video_quality": 0, "status": 1, "error_status": 0})
	ev.await(t, "live", func(e sseEvent) bool { return e.Type == EventState && strings.Contains(string(e.Data), `"status":1`) })
	dock.liveStatus(map[string]any{"video_id": cam, "video_type": "normal", "video_quality": 0, "status": 0, "error_status": 513015})
	e = ev.await(t, "session failed", sessionStep(cam, StepFailed))
	if !strings.Contains(e.field("reason"), "congestion") {
		t.Fatalf("reason = %s", e.Data)
	}

	// The gateway goes offline.
	keepAlive()
	if code := tp.do(t, "POST", "/api/v1/live", `{"video_id":"`+cam+`"}`, nil); code != 201 {
		t.Fatalf("POST = %d", code)
	}
	e = ev.await(t, "session failed offline", sessionStep(cam, StepFailed))
	if !strings.Contains(e.field("reason"), "offline") {
		t.Fatalf("reason = %s", e.Data)
	}
	var s sessionBody
	tp.do(t, "GET", "/api/v1/live/"+cam, "", &s)
	if s.State != StepFailed || !strings.Contains(s.Reason, "offline") {
		t.Fatalf("GET = %+v", s)
	}
	var er apiErr
	if code := tp.do(t, "POST", "/api/v1/live", `{"video_id":"`+cam+`"}`, &er); code != 404 || er.Error.Code != "device_offline" {
		t.Fatalf("POST to an offline device = %d %+v", code, er)
	}
}

// TestIdleStopAndReconnect: media going away and coming back keeps the
// session; no viewer for idle_stop_after stops it; on-demand starts it.
func TestIdleStopAndReconnect(t *testing.T) {
	c := fastConfig()
	c.IdleStopAfter = 200 * time.Millisecond
	tp := startPlane(t, embeddedConfig(), c)
	ev := openSSE(t, tp.srv.URL)
	dock := newFakeDock(t, tp, ev, "mqttv311", "DOCKI", "AIRI")
	vid := "AIRI/99-0-0/normal-0"
	tp.media.setReady(vid)
	tp.media.readers[vid] = 1

	// A viewer opens the path: on-demand start.
	if err := tp.StartOnDemand(t.Context(), vid); err != nil {
		t.Fatalf("StartOnDemand: %v", err)
	}
	s := tp.session(vid).view()
	if s.State != StepPlayable || s.Origin != "on_demand" || s.Protocol != "rtmp" {
		t.Fatalf("session = %+v", s)
	}
	dock.next("live_start_push")

	// Media reconnect: gone then ready keeps the session.
	tp.StreamEvent(vid, StreamGone, 1)
	ev.await(t, "media_arriving", sessionStep(vid, StepMediaArriving))
	tp.StreamEvent(vid, StreamReady, 1)
	ev.await(t, "playable again", sessionStep(vid, StepPlayable))

	// The last viewer leaves: stopped after idle_stop_after.
	tp.StreamEvent(vid, StreamReaders, 0)
	dock.next("live_stop_push")
	e := ev.await(t, "idle stop", sessionStep(vid, StepStopped))
	if !strings.Contains(e.field("reason"), "no viewer") {
		t.Fatalf("reason = %s", e.Data)
	}
	if ev.count(func(e sseEvent) bool { return e.Type == EventStream && e.Path == vid }) < 3 {
		t.Error("stream events missing from the event stream")
	}
}
