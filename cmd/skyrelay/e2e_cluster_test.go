package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
	"github.com/skyrelay/skyrelay/sim"
)

// clusterOf starts n gateways as one cluster on broker b (cluster.* keys).
func clusterOf(t *testing.T, b *testpeer.Broker, n int) []*gwproc.Process {
	t.Helper()
	var gws []*gwproc.Process
	for i := 1; i <= n; i++ {
		gws = append(gws, gwproc.Start(t, fmt.Sprintf(`mqtt: {broker: %q}
cluster: {enabled: true, node_id: node%d}
`, b.URL(), i)))
	}
	for _, g := range gws {
		eventually(t, 20*time.Second, "every node in every directory", func() bool {
			var c struct {
				Members []struct {
					NodeID string `json:"node_id"`
				} `json:"members"`
			}
			ok := call(t, g, "GET", "/api/v1/cluster", "", &c) == 200 && len(c.Members) == n-1
			if !ok {
				t.Logf("%s: %d members", g.URL(""), len(c.Members))
			}
			return ok
		})
	}
	return gws
}

// mqttWatch is mosquitto_sub -v on filters, subscribed before it returns.
func mqttWatch(t *testing.T, b *testpeer.Broker, filters ...string) *testpeer.Proc {
	t.Helper()
	args := []string{"-h", "127.0.0.1", "-p", fmt.Sprint(b.Port), "-V", "mqttv5", "-v", "-d"}
	for _, f := range filters {
		args = append(args, "-t", f)
	}
	p := testpeer.Start(t, "mosquitto_sub", args...)
	if _, err := p.WaitOutput(testpeer.Context(t, 10*time.Second), "SUBACK"); err != nil {
		t.Fatalf("mosquitto_sub: %v", err)
	}
	return p
}

// count is how many received lines of p contain every one of substrs.
func count(p *testpeer.Proc, substrs ...string) int {
	n := 0
next:
	for _, l := range p.Lines() {
		for _, s := range substrs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		n++
	}
	return n
}

// mqttPub publishes one message with mosquitto_pub (a device's QoS 1).
func mqttPub(t *testing.T, b *testpeer.Broker, topic, payload string) {
	t.Helper()
	cmd := testpeer.Command(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", fmt.Sprint(b.Port), "-q", "1", "-t", topic, "-m", payload)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
}

// dockOn runs the simulated Dock 3 on broker b until the test ends.
func dockOn(t *testing.T, b *testpeer.Broker) sim.Dock {
	t.Helper()
	return runDock(t, sim.Options{Broker: b.URL(), EventInterval: -1, Reconnect: 200 * time.Millisecond})
}

// dockOnline waits until g lists the simulated dock online with cameras.
func dockOnline(t *testing.T, g *gwproc.Process) {
	t.Helper()
	eventually(t, 20*time.Second, "the dock online with its cameras on "+g.URL(""), func() bool {
		var dev struct {
			Online  bool `json:"online"`
			Cameras []struct {
				VideoID string `json:"video_id"`
			} `json:"cameras"`
		}
		return call(t, g, "GET", "/api/v1/devices/"+sim.DefaultDockSN, "", &dev) == 200 && dev.Online && len(dev.Cameras) > 0
	})
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestClusterAnswersOnce: three nodes on one Mosquitto 2 see the dock, and
// each device message owing a reply (update_topo, events with need_reply,
// requests) is answered by exactly one of them; a fourth node joining late
// sees the dock's cameras too.
func TestClusterAnswersOnce(t *testing.T) {
	testpeer.Require(t, "mosquitto_sub", "mosquitto_pub")
	b := testpeer.Mosquitto(t)
	gws := clusterOf(t, b, 3)
	dockOn(t, b)
	for _, g := range gws {
		dockOnline(t, g)
	}
	replies := mqttWatch(t, b, "sys/product/+/status_reply", "thing/product/+/events_reply", "thing/product/+/requests_reply")
	const gw, n = "CLUSTERTESTGW01", 30
	for i := range n {
		mqttPub(t, b, "sys/product/"+gw+"/status", fmt.Sprintf(`{"tid":"topo-%d","bid":"b","timestamp":1,"method":"update_topo","data":{"domain":"3","type":119,"sub_type":0,"sub_devices":[]}}`, i))
		mqttPub(t, b, "thing/product/"+gw+"/events", fmt.Sprintf(`{"tid":"ev-%d","bid":"b","timestamp":1,"method":"hms","need_reply":1,"data":{"list":[]}}`, i))
		mqttPub(t, b, "thing/product/"+gw+"/requests", fmt.Sprintf(`{"tid":"rq-%d","bid":"b","timestamp":1,"method":"config","data":{"config_type":"json","config_scope":"product"}}`, i))
	}
	ctx := testpeer.Context(t, 20*time.Second)
	for _, kind := range []string{"topo", "ev", "rq"} {
		if _, err := replies.WaitOutput(ctx, fmt.Sprintf(`"tid":"%s-%d"`, kind, n-1)); err != nil {
			t.Fatalf("no reply to the last %s message: %v", kind, err)
		}
	}
	// Every node saw the new gateway (plain subscriptions) ...
	for _, g := range gws {
		eventually(t, 10*time.Second, "the new gateway on "+g.URL(""), func() bool {
			return call(t, g, "GET", "/api/v1/devices/"+gw, "", nil) == 200
		})
	}
	// A node joining now learns the dock's cameras (announced only on
	// change) from a member's snapshot.
	late := gwproc.Start(t, fmt.Sprintf("mqtt: {broker: %q}\ncluster: {enabled: true, node_id: late}\n", b.URL()))
	dockOnline(t, late)
	// ... and each message got one reply, sent once the last reply of
	// each kind arrived (replies of one device go out in order per node).
	for _, kind := range []string{"topo", "ev", "rq"} {
		for i := range n {
			if c := count(replies, fmt.Sprintf(`"tid":"%s-%d"`, kind, i)); c != 1 {
				t.Errorf("%s-%d answered %d times, want once", kind, i, c)
			}
		}
	}
}

// TestClusterLiveAndFailover: a push started through one node is sent once
// and viewable from every node (307 for HLS and WHEP, a relay for RTSP);
// kill -9 of the node holding it restarts it on a survivor, once; after a
// broker restart the directory is rebuilt and replies still go out once.
func TestClusterLiveAndFailover(t *testing.T) {
	testpeer.Require(t, "mosquitto_sub", "mosquitto_pub", "ffprobe")
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) { liveAndFailover(t, n) })
	}
}

func liveAndFailover(t *testing.T, nodes int) {
	b := testpeer.Mosquitto(t)
	gws := clusterOf(t, b, nodes)
	services := mqttWatch(t, b, "thing/product/+/services")
	d := dockOn(t, b)
	for _, g := range gws {
		dockOnline(t, g)
	}
	video := d.VideoIDs()[1]
	holder, other := gws[1], gws[0]

	var a liveAnswer
	if code := call(t, holder, "POST", "/api/v1/live", fmt.Sprintf(`{"video_id":%q,"protocol":"rtmp"}`, video), &a); code != 201 {
		t.Fatalf("POST /api/v1/live on node2: %d %+v", code, a)
	}
	eventually(t, 10*time.Second, "node1 knowing node2 holds the push", func() bool {
		var c struct {
			Members []struct {
				NodeID string `json:"node_id"`
				Pushes []struct {
					Path string `json:"path"`
				} `json:"pushes"`
			} `json:"members"`
		}
		call(t, other, "GET", "/api/v1/cluster", "", &c)
		for _, m := range c.Members {
			if m.NodeID == "node2" && len(m.Pushes) == 1 && m.Pushes[0].Path == video {
				return true
			}
		}
		return false
	})
	// The same start on another node is forwarded: no second command.
	if code := call(t, other, "POST", "/api/v1/live", fmt.Sprintf(`{"video_id":%q}`, video), nil); code != 200 {
		t.Fatalf("the same start on node1 answered %d, want 200 (joined on node2)", code)
	}
	if c := count(services, "live_start_push"); c != 1 {
		t.Fatalf("%d live_start_push sent, want 1", c)
	}

	// HLS and WHEP on node1: 307 to node2.
	for _, u := range []string{other.URL("/" + video + "/index.m3u8")} {
		resp, err := noRedirect.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != 307 || !strings.HasPrefix(loc, holder.URL("/"+video+"/")) {
			t.Fatalf("GET %s: %d Location %q, want 307 to node2", u, resp.StatusCode, loc)
		}
	}
	resp, err := noRedirect.Post(other.URL("/"+video+"/whep"), "application/sdp", strings.NewReader("v=0\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 307 || resp.Header.Get("Location") != holder.URL("/"+video+"/whep") {
		t.Fatalf("WHEP POST on node1: %d %q, want 307 to node2", resp.StatusCode, resp.Header.Get("Location"))
	}
	ctx := testpeer.Context(t, 60*time.Second)
	if v, ok := testpeer.FFprobe(t, ctx, other.URL("/"+video+"/index.m3u8")).Video(); !ok || v.Codec != "h264" {
		t.Fatalf("ffprobe of node1's HLS (redirected): %+v", v)
	}
	// RTSP has no redirect a publisher-side relay needs: node1 relays.
	if v, ok := testpeer.FFprobe(t, ctx, other.RTSPURL(video), "-rtsp_transport", "tcp").Video(); !ok || v.Codec != "h264" {
		t.Fatalf("ffprobe of node1's RTSP (relayed): %+v", v)
	}
	if c := count(services, "live_start_push"); c != 1 {
		t.Fatalf("%d live_start_push after cross-node viewing, want 1", c)
	}

	// kill -9 the holder: one survivor takes the push over.
	killed := time.Now()
	if err := holder.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	survivors := append([]*gwproc.Process{gws[0]}, gws[2:]...)
	var taker *gwproc.Process
	eventually(t, 20*time.Second, "the push playable on a survivor", func() bool {
		for _, g := range survivors {
			// Not followed: until the will arrives a survivor still sends
			// the session's API to the dead node.
			resp, err := noRedirect.Get(g.URL("/api/v1/live/" + video))
			if err != nil {
				t.Fatal(err)
			}
			var s struct {
				State string `json:"state"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
			if resp.StatusCode == 200 && s.State == "playable" {
				taker = g
				return true
			}
		}
		return false
	})
	t.Logf("failover: playable on %s %s after the kill", taker.URL(""), time.Since(killed).Round(time.Millisecond))
	if c := count(services, "live_start_push"); c != 2 {
		t.Fatalf("%d live_start_push in all, want 2 (the start and one takeover)", c)
	}
	if v, ok := testpeer.FFprobe(t, ctx, taker.URL("/"+video+"/index.m3u8")).Video(); !ok || v.Codec != "h264" {
		t.Fatalf("ffprobe after the takeover: %+v", v)
	}

	// Broker restart: the directory comes back, replies still go out once.
	b.Restart()
	for _, g := range survivors {
		eventually(t, 30*time.Second, "the directory rebuilt after the broker restart", func() bool {
			var c struct {
				Members []struct {
					NodeID string `json:"node_id"`
				} `json:"members"`
			}
			return call(t, g, "GET", "/api/v1/cluster", "", &c) == 200 && len(c.Members) == len(survivors)-1
		})
	}
	replies := mqttWatch(t, b, "sys/product/+/status_reply")
	// The nodes are back once a probe gets its answer.
	probe := 0
	eventually(t, 30*time.Second, "a reply after the broker restart", func() bool {
		probe++
		mqttPub(t, b, "sys/product/CLUSTERTESTGW02/status", fmt.Sprintf(`{"tid":"probe-%d","bid":"b","timestamp":1,"method":"update_topo","data":{"domain":"3","type":119,"sub_type":0,"sub_devices":[]}}`, probe))
		return count(replies, `"tid":"probe-`) > 0
	})
	for i := range 10 {
		mqttPub(t, b, "sys/product/CLUSTERTESTGW02/status", fmt.Sprintf(`{"tid":"after-%d","bid":"b","timestamp":1,"method":"update_topo","data":{"domain":"3","type":119,"sub_type":0,"sub_devices":[]}}`, i))
	}
	if _, err := replies.WaitOutput(testpeer.Context(t, 20*time.Second), `"tid":"after-9"`); err != nil {
		t.Fatalf("no reply after the broker restart: %v", err)
	}
	for i := range 10 {
		if c := count(replies, fmt.Sprintf(`"tid":"after-%d"`, i)); c != 1 {
			t.Errorf("after-%d answered %d times after the broker restart, want once", i, c)
		}
	}
}
