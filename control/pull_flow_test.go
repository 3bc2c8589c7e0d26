package control

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// pullMedia is fakeMedia that also receives rtsp and pulls, recording what
// it was asked to pull and whether the pull was stopped.
type pullMedia struct {
	*fakeMedia
	mu      sync.Mutex
	pulls   map[string]string // path -> url
	stopped map[string]int
}

func (m *pullMedia) MintPush(path, protocol string) (string, func(), error) {
	if protocol == "rtsp" {
		return "userName=u&password=p&port=8554", func() {}, nil
	}
	return m.fakeMedia.MintPush(path, protocol)
}

func (m *pullMedia) Receives(protocol string) bool { return protocol == "rtsp" || protocol == "whip" }

func (m *pullMedia) Pull(path, url string) (func(), error) {
	m.mu.Lock()
	m.pulls[path] = url
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		m.stopped[path]++
		m.mu.Unlock()
	}, nil
}

func (m *pullMedia) state(path string) (string, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pulls[path], m.stopped[path]
}

// startPullPlane is startPlane with a pullMedia.
func startPullPlane(t *testing.T) (*testPlane, *pullMedia) {
	t.Helper()
	pm := &pullMedia{fakeMedia: newFakeMedia(), pulls: map[string]string{}, stopped: map[string]int{}}
	p := New(embeddedConfig(), fastConfig(), pm, testLogger(t))
	if err := p.Initialize(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(apiHandler(p))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); p.Close() })
	return &testPlane{Plane: p, media: pm.fakeMedia, srv: srv}, pm
}

// rtspDock is a dock (mosquitto_pub/sub) that answers live_start_push with
// the given reply data and every other command with result 0.
func rtspDock(t *testing.T, tp *testPlane, ev *sseClient, gw, air, startReply string) chan mqttMsg {
	t.Helper()
	peer := mqttPeer{port: tp.port(t), version: "mqttv311"}
	cmds := make(chan mqttMsg, 16)
	services := peer.sub(t, "thing/product/"+gw+"/services")
	// Replies still in flight when the test ends fail quietly: the
	// broker is going away (cleanups run last-registered first).
	ended := make(chan struct{})
	t.Cleanup(func() { close(ended) })
	go func() {
		for m := range services.ch {
			select {
			case cmds <- m:
			case <-ended:
				return
			}
			data := `{"result":0}`
			if m.str("method") == "live_start_push" {
				data = startReply
			}
			out := fmt.Sprintf(`{"tid":%q,"bid":%q,"timestamp":%d,"method":%q,"data":%s}`,
				m.str("tid"), m.str("bid"), time.Now().UnixMilli(), m.str("method"), data)
			if err := peer.tryPub(t, "thing/product/"+gw+"/services_reply", out); err != nil {
				select {
				case <-ended:
				default:
					t.Error(err)
				}
			}
		}
	}()
	peer.pub(t, "sys/product/"+gw+"/status", topoMsg(nextTID("topo"), gw, air))
	peer.pub(t, "thing/product/"+gw+"/state", msg(nextTID("cap"), "", dockCapacity(gw, air), map[string]any{"gateway": gw}))
	ev.await(t, "capacity of "+gw, func(e sseEvent) bool {
		return e.Type == EventState && e.SN == gw && strings.Contains(string(e.Data), "live_capacity")
	})
	return cmds
}

func nextCmd(t *testing.T, cmds chan mqttMsg, method string) mqttMsg {
	t.Helper()
	tm := time.NewTimer(within)
	defer tm.Stop()
	for {
		select {
		case m := <-cmds:
			if m.str("method") == method {
				return m
			}
		case <-tm.C:
			t.Fatalf("no %s within %s", method, within)
		}
	}
}

// url_type 2: the url carries the minted credentials; the pull URL comes
// from data.output or the legacy data.info, as a string or in an object;
// the pull runs until the session ends.
func TestLiveRTSPPull(t *testing.T) {
	for _, c := range []struct{ name, reply string }{
		{"output string", `{"result":0,"output":"rtsp://u:p@10.0.0.9:8554/live/1"}`},
		{"info string", `{"result":0,"info":"rtsp://u:p@10.0.0.9:8554/live/1"}`},
		{"output object", `{"result":0,"output":{"url":"rtsp://u:p@10.0.0.9:8554/live/1"}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tp, pm := startPullPlane(t)
			tp.media.instant = true
			ev := openSSE(t, tp.srv.URL)
			cmds := rtspDock(t, tp, ev, "DOCKP", "AIRP", c.reply)
			vid := "AIRP/99-0-0/normal-0"
			res := tp.startAsync(t, `{"video_id":"`+vid+`","protocol":"rtsp"}`)
			start := nextCmd(t, cmds, "live_start_push")
			if u := cloudapi.String(start.data()["url"]); cloudapi.String(start.data()["url_type"]) != "2" || !strings.HasPrefix(u, "userName=") {
				t.Fatalf("live_start_push = %s", start.Raw)
			}
			r := <-res
			if r.code != 201 {
				t.Fatalf("POST = %d %s", r.code, r.raw)
			}
			if u, stopped := pm.state(vid); u != "rtsp://u:p@10.0.0.9:8554/live/1" || stopped != 0 {
				t.Fatalf("pull %q, stopped %d", u, stopped)
			}
			if strings.Contains(string(r.raw), ":p@") {
				t.Fatalf("the device's RTSP password reached the API: %s", r.raw)
			}
			done := make(chan int, 1)
			go func() { done <- tp.do(t, "DELETE", "/api/v1/live/"+vid, "", nil) }()
			nextCmd(t, cmds, "live_stop_push")
			if code := <-done; code != 204 {
				t.Fatalf("DELETE = %d", code)
			}
			if _, stopped := pm.state(vid); stopped != 1 {
				t.Fatalf("pull stopped %d times after DELETE", stopped)
			}
		})
	}
}

// A device that accepts url_type 2 without a pull URL fails the session
// with a clear 502, and is told to stop.
func TestLiveRTSPPullWithoutURL(t *testing.T) {
	tp, pm := startPullPlane(t)
	tp.media.instant = true
	ev := openSSE(t, tp.srv.URL)
	cmds := rtspDock(t, tp, ev, "DOCKQ", "AIRQ", `{"result":0,"output":{"echo":"x"}}`)
	vid := "AIRQ/99-0-0/normal-0"
	var e apiErr
	res := make(chan int, 1)
	go func() { res <- tp.do(t, "POST", "/api/v1/live", `{"video_id":"`+vid+`","protocol":"rtsp"}`, &e) }()
	nextCmd(t, cmds, "live_start_push")
	nextCmd(t, cmds, "live_stop_push")
	if code := <-res; code != 502 || e.Error.Code != "bad_reply" || !strings.Contains(e.Error.Message, "rtsp://") {
		t.Fatalf("POST = %d %+v", code, e)
	}
	if u, _ := pm.state(vid); u != "" {
		t.Fatalf("pulled %q", u)
	}
}
