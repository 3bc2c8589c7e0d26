package control

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/control/cloudapi"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestExternalBroker runs the plane against a real Mosquitto (mqtt.broker:
// tcp://127.0.0.1:PORT) with the Dock played by mosquitto_pub/mosquitto_sub
// over MQTT 3.1.1 and 5, and restarts Mosquitto in the middle: a command
// waiting for its reply fails at once with a clear error, a command sent
// while the broker is down is refused, and after the restart the plane has
// reconnected, resubscribed and matches a new command to its reply. No
// command is ever retained.
func TestExternalBroker(t *testing.T) {
	old := reconnectMin
	reconnectMin = 50 * time.Millisecond
	t.Cleanup(func() { reconnectMin = old })
	for _, v := range []string{"mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) { testExternalBroker(t, v) })
	}
}

func testExternalBroker(t *testing.T, version string) {
	b := testpeer.Mosquitto(t)
	m := conf.MQTT{Broker: b.URL(), ClientID: "skyrelay-test-" + version}
	c := fastConfig()
	// Long enough that a failure from a dropped connection cannot be
	// mistaken for a reply timeout.
	c.ReplyTimeout = 10 * time.Second
	tp := startPlane(t, m, c)
	ev := openSSE(t, tp.srv.URL)
	waitConnected(t, tp)

	gw, ac := "EXT"+strings.ToUpper(version), "EXTAIR"+strings.ToUpper(version)
	dev := mqttPeer{port: b.Port, version: version}
	dock := newScriptedDock(t, dev, gw)
	replies := subFlags(t, dev, "sys/product/"+gw+"/status_reply", "thing/product/"+gw+"/events_reply", "thing/product/"+gw+"/requests_reply")

	// Online, topology and live_capacity through Mosquitto.
	tid := nextTID("topo")
	dev.pub(t, "sys/product/"+gw+"/status", topoMsg(tid, gw, ac))
	if r := replies.await(t, "status_reply", onTopic("sys/product/"+gw+"/status_reply")); r.str("tid") != tid || string(r.data()["result"]) != "0" {
		t.Fatalf("status_reply = %s", r.Raw)
	}
	ev.await(t, "device_online", func(e sseEvent) bool { return e.Type == EventDeviceOnline && e.SN == gw })
	dev.pub(t, "thing/product/"+gw+"/state", msg(nextTID("cap"), "", dockCapacity(gw, ac), map[string]any{"gateway": gw}))
	ev.await(t, "live_capacity", func(e sseEvent) bool {
		return e.Type == EventState && e.SN == gw && strings.Contains(string(e.Data), "live_capacity")
	})
	d, ok := tp.Device(gw)
	if !ok || !d.Online || len(d.Cameras) != 3 || len(d.SubDevices) != 1 {
		t.Fatalf("device = %+v", d)
	}

	// Replies to requests and events go out through the outbox.
	rtid := nextTID("req")
	dev.pub(t, "thing/product/"+gw+"/requests", msg(rtid, "config", map[string]any{"config_type": "json", "config_scope": "product"}, nil))
	r := replies.await(t, "config reply", onTopic("thing/product/"+gw+"/requests_reply"))
	if r.str("tid") != rtid || cloudapi.String(r.data()["app_id"]) != "123456" || cloudapi.String(r.data()["ntp_server_host"]) != "pool.ntp.org" {
		t.Fatalf("config reply = %s", r.Raw)
	}
	etid := nextTID("ev")
	dev.pub(t, "thing/product/"+gw+"/events", msg(etid, "hms", map[string]any{"list": []any{}}, map[string]any{"need_reply": 1}))
	if r := replies.await(t, "events_reply", onTopic("thing/product/"+gw+"/events_reply")); r.str("tid") != etid || string(r.data()["result"]) != "0" {
		t.Fatalf("events_reply = %s", r.Raw)
	}

	// A service passes through with its reply.
	var out struct {
		Result int             `json:"result"`
		Output json.RawMessage `json:"output"`
	}
	if code := tp.do(t, "POST", "/api/v1/devices/"+gw+"/services/debug_mode_open", `{"x":1}`, &out); code != 200 || out.Result != 0 || string(out.Output) != `{"echo":"debug_mode_open"}` {
		t.Fatalf("service = %d %+v", code, out)
	}
	if cmd := dock.next(t, "debug_mode_open"); string(cmd.data()["x"]) != "1" {
		t.Fatalf("the dock received %s", cmd.Raw)
	}

	// A command waiting for its reply when the broker goes away fails at
	// once, saying the device may or may not have acted.
	dock.silent("camera_photo_take")
	pending := make(chan apiResult, 1)
	go func() {
		var e apiErr
		code := tp.do(t, "POST", "/api/v1/devices/"+gw+"/services/camera_photo_take", `{}`, &e)
		pending <- apiResult{code, e}
	}()
	dock.next(t, "camera_photo_take")
	stopped := time.Now()
	b.Stop()
	select {
	case res := <-pending:
		if res.code != 503 || res.err.Error.Code != "mqtt_unavailable" || !strings.Contains(res.err.Error.Message, "may or may not have acted") {
			t.Fatalf("pending command when the broker stopped = %d %+v", res.code, res.err)
		}
		if took := time.Since(stopped); took > c.ReplyTimeout/2 {
			t.Fatalf("the pending command failed only after %s", took)
		}
	case <-time.After(within):
		t.Fatal("the pending command did not fail when the broker stopped")
	}
	ev.await(t, "mqtt down", func(e sseEvent) bool { return e.Type == EventMQTT && e.field("connected") == "false" })

	// Sent while the broker is down: refused at once, not queued.
	var e apiErr
	if code := tp.do(t, "POST", "/api/v1/devices/"+gw+"/services/debug_mode_close", `{}`, &e); code != 503 || e.Error.Code != "mqtt_unavailable" || !strings.Contains(e.Error.Message, "not sent") {
		t.Fatalf("command while the broker is down = %d %+v", code, e)
	}

	// Back up: the plane reconnects with back-off and resubscribes.
	subacks := dock.sub.subacks.Load() + replies.subacks.Load()
	b.Start()
	ev.await(t, "mqtt up", func(e sseEvent) bool { return e.Type == EventMQTT && e.field("connected") == "true" })
	waitFor(t, "the dock's mosquitto_sub clients to resubscribe", func() bool {
		return dock.sub.subacks.Load()+replies.subacks.Load() >= subacks+2
	})
	dev.pub(t, "thing/product/"+gw+"/state", msg(nextTID("st"), "", map[string]any{"after_restart": 1}, nil))
	ev.await(t, "state after the restart", func(e sseEvent) bool {
		return e.Type == EventState && strings.Contains(string(e.Data), "after_restart")
	})

	// A command after the restart is matched to its reply.
	if code := tp.do(t, "POST", "/api/v1/devices/"+gw+"/services/debug_mode_close", `{"y":2}`, &out); code != 200 || out.Result != 0 || string(out.Output) != `{"echo":"debug_mode_close"}` {
		t.Fatalf("service after the restart = %d %+v", code, out)
	}
	if cmd := dock.next(t, "debug_mode_close"); string(cmd.data()["y"]) != "2" {
		t.Fatalf("the dock received %s", cmd.Raw)
	}

	// Never retained: every command the dock saw had the retain flag clear,
	// and a new subscriber gets no stored command, only a fresh message.
	if n := dock.sub.retained.Load(); n != 0 {
		t.Fatalf("%d commands were published retained", n)
	}
	fresh := subFlags(t, dev, "thing/product/"+gw+"/services")
	dev.pub(t, "thing/product/"+gw+"/services", `{"sentinel":1}`)
	first := fresh.await(t, "any message", func(mqttMsg) bool { return true })
	if first.Raw != `{"sentinel":1}` || fresh.retained.Load() != 0 {
		t.Fatalf("a new subscriber to the services topic first got %s (retained: %d)", first.Raw, fresh.retained.Load())
	}
}

type apiResult struct {
	code int
	err  apiErr
}

// waitConnected waits until the plane is connected to the external broker
// with its cloudapi.Subscriptions in place.
func waitConnected(t testing.TB, tp *testPlane) {
	t.Helper()
	waitFor(t, "the connection to the MQTT broker", func() bool { return tp.external != nil && tp.external.Connected() })
}

// waitFor polls cond with a short back-off until it holds or within passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for d := time.Millisecond; !cond(); d = min(2*d, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, within)
		}
		time.Sleep(d)
	}
}

// flagSub is a mosquitto_sub that also reports each message's retain flag
// and counts its SUBACKs (it resubscribes after every reconnect).
type flagSub struct {
	proc     *testpeer.Proc
	ch       chan mqttMsg
	subacks  atomic.Int64
	retained atomic.Int64
}

// subFlags starts mosquitto_sub on filters and returns once subscribed.
func subFlags(t testing.TB, d mqttPeer, filters ...string) *flagSub {
	t.Helper()
	args := append(d.args(), "-d", "-q", "1", "-F", "MSG %r %t %p")
	for _, f := range filters {
		args = append(args, "-t", f)
	}
	cmd := testpeer.Command(t, "mosquitto_sub", args...)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	s := &flagSub{ch: make(chan mqttMsg, 1024)}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "received SUBACK") {
				s.subacks.Add(1)
			}
			if rest, ok := strings.CutPrefix(line, "MSG "); ok {
				flag, rest, _ := strings.Cut(rest, " ")
				topic, payload, _ := strings.Cut(rest, " ")
				if flag != "0" {
					s.retained.Add(1)
				}
				m := mqttMsg{Topic: topic, Raw: payload}
				_ = json.Unmarshal([]byte(payload), &m.Payload)
				s.ch <- m
			}
		}
		close(s.ch)
	}()
	s.proc = testpeer.StartCmd(t, cmd)
	t.Cleanup(func() { _ = s.proc.Stop(); _ = pw.Close() })
	go func() {
		<-s.proc.Exited()
		_ = pw.Close()
	}()
	deadline := time.Now().Add(within)
	for d := time.Millisecond; s.subacks.Load() == 0; d = min(2*d, 50*time.Millisecond) {
		select {
		case <-s.proc.Exited():
			t.Fatalf("mosquitto_sub %v exited before subscribing:\n%s", filters, s.proc.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto_sub %v: no SUBACK within %s", filters, within)
		}
		time.Sleep(d)
	}
	return s
}

func (s *flagSub) await(t testing.TB, what string, pred func(mqttMsg) bool) mqttMsg {
	t.Helper()
	return awaitMsg(t, s.proc, s.ch, what, pred)
}

// scriptedDock answers every services message with result 0 and an echo
// of the method, except methods it was told to leave unanswered.
type scriptedDock struct {
	sub   *flagSub
	cmds  chan mqttMsg
	mu    sync.Mutex
	quiet map[string]bool
}

func newScriptedDock(t testing.TB, dev mqttPeer, gw string) *scriptedDock {
	t.Helper()
	d := &scriptedDock{sub: subFlags(t, dev, "thing/product/"+gw+"/services"), cmds: make(chan mqttMsg, 64), quiet: map[string]bool{}}
	go func() {
		for m := range d.sub.ch {
			method := m.str("method")
			d.mu.Lock()
			quiet := d.quiet[method] || method == "" // not a command: the test's own sentinel
			d.mu.Unlock()
			if !quiet {
				out := fmt.Sprintf(`{"tid":%q,"bid":%q,"timestamp":%d,"method":%q,"data":{"result":0,"output":{"echo":%q}}}`,
					m.str("tid"), m.str("bid"), time.Now().UnixMilli(), method, method)
				if err := dev.tryPub(t, "thing/product/"+gw+"/services_reply", out); err != nil {
					t.Error(err)
				}
			}
			d.cmds <- m
		}
	}()
	return d
}

// silent leaves method unanswered.
func (d *scriptedDock) silent(method string) {
	d.mu.Lock()
	d.quiet[method] = true
	d.mu.Unlock()
}

// next returns the next command of method the dock received.
func (d *scriptedDock) next(t testing.TB, method string) mqttMsg {
	t.Helper()
	tm := time.NewTimer(within)
	defer tm.Stop()
	for {
		select {
		case m := <-d.cmds:
			if m.str("method") == method {
				return m
			}
		case <-tm.C:
			t.Fatalf("the dock received no %s within %s", method, within)
		}
	}
}
