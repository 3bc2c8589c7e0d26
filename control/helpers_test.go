package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/control/cloudapi"
	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// within bounds every wait of these tests; a wait ends as soon as what it
// waits for happens.
const within = 15 * time.Second

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("SKYRELAY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fakeMedia stands in for the media gateway.
type fakeMedia struct {
	mu       sync.Mutex
	instant  bool // WaitReady returns at once
	ready    map[string]chan struct{}
	minted   map[string]int
	revoked  map[string]int
	protos   []string
	readers  map[string]int
	mintFail error
}

func newFakeMedia() *fakeMedia {
	return &fakeMedia{ready: map[string]chan struct{}{}, minted: map[string]int{}, revoked: map[string]int{}, readers: map[string]int{}}
}

func (m *fakeMedia) readyCh(path string) chan struct{} {
	ch := m.ready[path]
	if ch == nil {
		ch = make(chan struct{})
		m.ready[path] = ch
	}
	return ch
}

func (m *fakeMedia) MintPush(path, protocol string) (string, func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mintFail != nil {
		return "", nil, m.mintFail
	}
	m.minted[path]++
	m.protos = append(m.protos, protocol)
	n := m.minted[path]
	var once sync.Once
	return fmt.Sprintf("rtmp://127.0.0.1:1935/%s?secret=s3cret%d", path, n), func() {
		once.Do(func() {
			m.mu.Lock()
			m.revoked[path]++
			m.mu.Unlock()
		})
	}, nil
}

func (m *fakeMedia) WaitReady(ctx context.Context, path string) error {
	m.mu.Lock()
	if m.instant {
		m.mu.Unlock()
		return nil
	}
	ch := m.readyCh(path)
	m.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setReady makes path playable (until reset).
func (m *fakeMedia) setReady(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch := m.readyCh(path)
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func (m *fakeMedia) reset(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.ready, path)
}

func (m *fakeMedia) PlayURLs(path string) PlayURLs {
	return PlayURLs{WHEP: "http://127.0.0.1:8080/" + path + "/whep", HLS: "http://127.0.0.1:8080/" + path + "/index.m3u8",
		RTSP: "rtsp://127.0.0.1:8554/" + path, Page: "http://127.0.0.1:8080/" + path + "/"}
}

func (m *fakeMedia) Readers(path string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.readers[path]
}

// Receives: a plain fakeMedia takes rtmp only.
func (m *fakeMedia) Receives(protocol string) bool { return protocol == "rtmp" }

// Pull: a plain fakeMedia cannot pull.
func (m *fakeMedia) Pull(path, url string) (func(), error) {
	return nil, errors.New("this media gateway cannot pull")
}

func (m *fakeMedia) revokedN(path string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.revoked[path]
}

// apiHandler routes the plane's API as the gateway's one router does.
func apiHandler(p *Plane) http.Handler {
	mux := http.NewServeMux()
	for pattern, h := range p.Routes() {
		mux.Handle(pattern, h)
	}
	mux.Handle("/api/", gateway.APINotFound(mux, "/api/"))
	return mux
}

// testPlane is a running plane with its API on an httptest server.
type testPlane struct {
	*Plane
	media *fakeMedia
	srv   *httptest.Server
}

// fastConfig is the control config for tests: short timeouts.
func fastConfig() conf.Control {
	c := conf.Default().Control
	c.ReplyTimeout = 5 * time.Second
	c.ReadyTimeout = 5 * time.Second
	c.StartRetryBackoff = 10 * time.Millisecond
	c.AppID, c.AppKey, c.AppLicense = "123456", "app-key-secret", "app-license-secret"
	return c
}

// embeddedConfig is an embedded broker on free loopback ports.
func embeddedConfig() conf.MQTT {
	m := conf.Default().MQTT
	m.Embedded.Listen = "127.0.0.1:0"
	m.Embedded.WSListen = "127.0.0.1:0"
	return m
}

func startPlane(t testing.TB, m conf.MQTT, c conf.Control) *testPlane {
	t.Helper()
	media := newFakeMedia()
	p := New(m, c, media, testLogger(t))
	if err := p.Initialize(); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	srv := httptest.NewServer(apiHandler(p))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		p.Close()
	})
	return &testPlane{Plane: p, media: media, srv: srv}
}

// port is the embedded broker's TCP port.
func (tp *testPlane) port(t testing.TB) int {
	_, ps, err := net.SplitHostPort(tp.BrokerAddr())
	if err != nil {
		t.Fatalf("broker address %q: %v", tp.BrokerAddr(), err)
	}
	n, _ := strconv.Atoi(ps)
	return n
}

// do sends an API request and decodes the JSON answer into out (if not nil).
func (tp *testPlane) do(t testing.TB, method, path, body string, out any) int {
	t.Helper()
	return doHTTP(t, method, tp.srv.URL+path, body, out)
}

func doHTTP(t testing.TB, method, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("%s %s: %d answered %q, not JSON: %s", method, url, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// apiErr is the error body.
type apiErr struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		DeviceCode int    `json:"device_code"`
		Source     string `json:"source"`
		Module     int    `json:"module"`
	} `json:"error"`
}

// sseEvent is one event read back from /api/v1/events.
type sseEvent struct {
	Type    string          `json:"type"`
	SN      string          `json:"sn"`
	Gateway string          `json:"gateway"`
	Path    string          `json:"path"`
	Data    json.RawMessage `json:"data"`
}

func (e sseEvent) field(key string) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(e.Data, &m)
	return cloudapi.String(m[key])
}

// sseClient reads the event stream.
type sseClient struct {
	ch     chan sseEvent
	mu     sync.Mutex
	seen   []sseEvent
	cancel context.CancelFunc
}

// openSSE subscribes and returns once the stream confirmed it.
func openSSE(t testing.TB, base string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("events: %v", err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	c := &sseClient{ch: make(chan sseEvent, 4096), cancel: cancel}
	r := bufio.NewReaderSize(resp.Body, 1<<16)
	first, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(first, ": subscribed") {
		cancel()
		t.Fatalf("events: first line %q, %v", first, err)
	}
	go func() {
		defer resp.Body.Close()
		defer close(c.ch)
		var typ string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				typ = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				var e sseEvent
				if json.Unmarshal([]byte(line[len("data: "):]), &e) == nil && e.Type == typ {
					c.ch <- e
				}
			}
		}
	}()
	t.Cleanup(cancel)
	return c
}

// await returns the next event matching pred, failing after within.
func (c *sseClient) await(t testing.TB, what string, pred func(sseEvent) bool) sseEvent {
	t.Helper()
	tm := time.NewTimer(within)
	defer tm.Stop()
	for {
		select {
		case e, ok := <-c.ch:
			if !ok {
				t.Fatalf("event stream ended while waiting for %s", what)
			}
			c.mu.Lock()
			c.seen = append(c.seen, e)
			c.mu.Unlock()
			if pred(e) {
				return e
			}
		case <-tm.C:
			t.Fatalf("no event %s within %s", what, within)
		}
	}
}

// count counts the events seen so far that match pred.
func (c *sseClient) count(pred func(sseEvent) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.seen {
		if pred(e) {
			n++
		}
	}
	return n
}

func isType(typ string) func(sseEvent) bool {
	return func(e sseEvent) bool { return e.Type == typ }
}

// sessionStep matches a session event of path in step.
func sessionStep(path, step string) func(sseEvent) bool {
	return func(e sseEvent) bool { return e.Type == EventSession && e.Path == path && e.field("state") == step }
}

// --- devices played by mosquitto_pub and mosquitto_sub ---

// mqttPeer is a device talking to a broker through the Mosquitto clients.
type mqttPeer struct {
	port    int
	version string // mqttv311 or mqttv5
	user    string
	pass    string
}

func (d mqttPeer) args() []string {
	a := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(d.port), "-V", d.version}
	if d.user != "" {
		a = append(a, "-u", d.user, "-P", d.pass)
	}
	return a
}

// pub publishes one message at QoS 1 and returns mosquitto_pub's error.
func (d mqttPeer) tryPub(t testing.TB, topic, payload string) error {
	t.Helper()
	cmd := testpeer.Command(t, "mosquitto_pub", append(d.args(), "-q", "1", "-t", topic, "-m", payload)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("mosquitto_pub -t %s: %v: %s", topic, err, bytes.TrimSpace(out))
	}
	return nil
}

func (d mqttPeer) pub(t testing.TB, topic, payload string) {
	t.Helper()
	if err := d.tryPub(t, topic, payload); err != nil {
		t.Fatal(err)
	}
}

// mqttMsg is a message mosquitto_sub printed.
type mqttMsg struct {
	Topic   string
	Payload map[string]json.RawMessage
	Raw     string
}

func (m mqttMsg) str(key string) string { return cloudapi.String(m.Payload[key]) }

func (m mqttMsg) data() map[string]json.RawMessage {
	var d map[string]json.RawMessage
	_ = json.Unmarshal(m.Payload["data"], &d)
	return d
}

// mqttSub is a running mosquitto_sub.
type mqttSub struct {
	proc *testpeer.Proc
	ch   chan mqttMsg
}

// sub starts mosquitto_sub on filters and returns once the broker granted
// the subscription.
func (d mqttPeer) sub(t testing.TB, filters ...string) *mqttSub {
	t.Helper()
	args := append(d.args(), "-d", "-q", "1", "-F", "MSG %t %p")
	for _, f := range filters {
		args = append(args, "-t", f)
	}
	cmd := testpeer.Command(t, "mosquitto_sub", args...)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	s := &mqttSub{ch: make(chan mqttMsg, 1024)}
	subacked := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "received SUBACK") {
				select {
				case subacked <- line:
				default:
				}
			}
			if rest, ok := strings.CutPrefix(line, "MSG "); ok {
				topic, payload, _ := strings.Cut(rest, " ")
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
	select {
	case <-subacked:
	case <-s.proc.Exited():
		t.Fatalf("mosquitto_sub %v exited before subscribing:\n%s", filters, s.proc.Output())
	case <-time.After(within):
		t.Fatalf("mosquitto_sub %v: no SUBACK within %s", filters, within)
	}
	return s
}

// await returns the next message matching pred.
func (s *mqttSub) await(t testing.TB, what string, pred func(mqttMsg) bool) mqttMsg {
	t.Helper()
	return awaitMsg(t, s.proc, s.ch, what, pred)
}

// awaitMsg returns the next message of a mosquitto_sub matching pred.
func awaitMsg(t testing.TB, proc *testpeer.Proc, ch <-chan mqttMsg, what string, pred func(mqttMsg) bool) mqttMsg {
	t.Helper()
	tm := time.NewTimer(within)
	defer tm.Stop()
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("mosquitto_sub ended while waiting for %s:\n%s", what, proc.Output())
			}
			if pred(m) {
				return m
			}
		case <-tm.C:
			t.Fatalf("mosquitto_sub saw no %s within %s", what, within)
		}
	}
}

func onTopic(topic string) func(mqttMsg) bool {
	return func(m mqttMsg) bool { return m.Topic == topic }
}

// --- DJI messages ---

var tidN struct {
	sync.Mutex
	n int
}

func nextTID(prefix string) string {
	tidN.Lock()
	defer tidN.Unlock()
	tidN.n++
	return fmt.Sprintf("%s-%d", prefix, tidN.n)
}

func msg(tid, method string, data any, extra map[string]any) string {
	m := map[string]any{"tid": tid, "bid": "bid-" + tid, "timestamp": time.Now().UnixMilli(), "data": data}
	if method != "" {
		m["method"] = method
	}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// topoMsg is a Dock 3 update_topo in the documented shape, quirks
// included: domain as a string and the "timestamp:" key.
func topoMsg(tid, gw string, aircraft ...string) string {
	subs := []map[string]any{}
	for _, a := range aircraft {
		subs = append(subs, map[string]any{"sn": a, "domain": "0", "type": 100, "sub_type": 1, "index": "A",
			"device_secret": "secret", "nonce": "nonce", "thing_version": "1.2.0", "future_field": 7})
	}
	return fmt.Sprintf(`{"tid":%q,"bid":"bid-%s","method":"update_topo","timestamp:":1717000001000,`+
		`"data":{"domain":"3","type":3,"sub_type":0,"device_secret":"secret","nonce":"nonce","thing_version":"1.2.0","sub_devices":%s,"vendor_extra":{"a":1}}}`,
		tid, tid, mustJSON(subs))
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// dockCapacity is live_capacity of a Dock 3 with its dock camera and, when
// aircraft is set, the aircraft's FPV and main camera ([CAP] shape).
func dockCapacity(gw, aircraft string) map[string]any {
	devs := []any{map[string]any{"sn": gw, "available_video_number": 1, "coexist_video_number_max": 1, "camera_list": []any{
		map[string]any{"camera_index": "165-0-7", "available_video_number": 1, "coexist_video_number_max": 1,
			"video_list": []any{map[string]any{"video_index": "normal-0", "video_type": "normal", "switchable_video_types": []string{"normal"}}}}}}}
	if aircraft != "" {
		devs = append(devs, map[string]any{"sn": aircraft, "available_video_number": 2, "coexist_video_number_max": 1, "camera_list": []any{
			map[string]any{"camera_index": "176-0-0", "available_video_number": 1, "coexist_video_number_max": 1,
				"video_list": []any{map[string]any{"video_index": "normal-0", "video_type": "normal", "switchable_video_types": []string{"normal"}}}},
			map[string]any{"camera_index": "99-0-0", "available_video_number": 1, "coexist_video_number_max": 1,
				"video_list": []any{map[string]any{"video_index": "normal-0", "video_type": "zoom", "switchable_video_types": []string{"normal", "wide", "zoom", "ir"}}}}}})
	}
	return map[string]any{"live_capacity": map[string]any{"available_video_number": 3, "coexist_video_number_max": 3, "device_list": devs}}
}
