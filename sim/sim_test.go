package sim_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/sim"
)

const (
	dockSN = sim.DefaultDockSN
	m4tdSN = sim.DefaultDockAircraftSN
	rcSN   = sim.DefaultRCSN
	m4tSN  = sim.DefaultRCAircraftSN
)

// The dock speaks MQTT 3.1.1 to a real Mosquitto; clients of both protocol
// versions see its topology, telemetry and state, and a real RTMP peer
// (ffprobe) decodes the H.264 it pushes, quirks and all.
func TestDockAgainstMosquittoAndFFprobe(t *testing.T) {
	broker, port := startMosquitto(t)
	v311 := subscribe(t, port, "mqttv311", "#")
	v5 := subscribe(t, port, "mqttv5", "#")
	n := make(notes, 1000)
	opts, logs := testOptions(t, broker, 4, n)
	runDevice(t, sim.Dock{Options: opts}.Run)

	status := "sys/product/" + dockSN + "/status"
	for _, s := range []*subscriber{v311, v5} {
		topo := s.find(t, "update_topo", topicIs(status))
		d := topo.data()
		subs, _ := d["sub_devices"].([]any)
		if topo.str("method") != "update_topo" || d["domain"] != "3" || d["type"] != 3.0 || len(subs) != 1 {
			t.Fatalf("update_topo: %s", topo.Raw)
		}
		if sd := subs[0].(map[string]any); sd["sn"] != m4tdSN || sd["type"] != 100.0 || sd["sub_type"] != 1.0 {
			t.Fatalf("aircraft in update_topo: %v", sd)
		}
		s.find(t, "dock osd", topicIs("thing/product/"+dockSN+"/osd"))
		s.find(t, "aircraft osd", func(m message) bool {
			return m.Topic == "thing/product/"+m4tdSN+"/osd" && m.str("gateway") == dockSN
		})
	}

	// Without a status_reply the dock re-sends update_topo; after one it stops.
	_, after := v311.findSince(t, 0, "update_topo", topicIs(status))
	again, _ := v311.findSince(t, after, "re-sent update_topo", topicIs(status))
	publish(t, port, status+"_reply", map[string]any{
		"tid": again.str("tid"), "bid": again.str("bid"), "timestamp": time.Now().UnixMilli(),
		"method": "update_topo", "data": map[string]any{"result": 0},
	})
	n.wait(t, "topo_acked", func(x sim.Note) bool { return x.Kind == sim.NoteTopoAcked })
	acked := v311.mark()
	from := acked
	for range 4 { // 4 osd periods of 200 ms: the 300 ms topo retry would have fired
		_, from = v311.findSince(t, from, "dock osd", topicIs("thing/product/"+dockSN+"/osd"))
	}
	if c := v311.count(acked, topicIs(status)); c != 0 {
		t.Fatalf("%d update_topo after status_reply", c)
	}

	// live_capacity: the dock camera and the aircraft's two cameras.
	capMsg := v5.find(t, "live_capacity", stateWith(dockSN, "live_capacity"))
	if got := capacityIDs(capMsg); !slices.Equal(got, sim.Dock{}.VideoIDs()) {
		t.Fatalf("live_capacity video ids %v, want %v", got, sim.Dock{}.VideoIDs())
	}
	v5.find(t, "config request", func(m message) bool {
		return m.Topic == "thing/product/"+dockSN+"/requests" && m.str("method") == "config"
	})

	// hms events: answer one that asks for a reply.
	ev := v311.find(t, "event with need_reply", func(m message) bool {
		return m.Topic == "thing/product/"+dockSN+"/events" && m.Payload["need_reply"] == 1.0
	})
	publish(t, port, "thing/product/"+dockSN+"/events_reply", map[string]any{
		"tid": ev.str("tid"), "bid": ev.str("bid"), "method": ev.str("method"), "data": map[string]any{"result": 0},
	})
	n.wait(t, "events_reply seen", func(x sim.Note) bool { return x.Kind == sim.NoteEventReplied })
	// The aircraft's hms, forwarded on its own topic with the dock named.
	v311.find(t, "forwarded aircraft event", func(m message) bool {
		return m.Topic == "thing/product/"+m4tdSN+"/events" && m.str("gateway") == dockSN && m.str("method") == "hms"
	})

	// Live: RTMP with a secret in the query, to a real third-party reader.
	videoID := m4tdSN + "/99-0-0/normal-0"
	pr := startProbe(t, 0, 2)
	tid := service(t, port, dockSN, "live_start_push", map[string]any{
		"url_type": 1, "url": pr.URL + "?secret=s3cr3t-push-key", "video_id": videoID, "video_quality": 3,
	})
	r := v5.find(t, "live_start_push reply", replyTo(dockSN, tid))
	if r.str("bid") != "bid-"+tid || r.str("method") != "live_start_push" || r.data()["result"] != 0.0 {
		t.Fatalf("services_reply does not echo tid/bid/method or failed: %s", r.Raw)
	}
	v5.find(t, "live_status live", statusWith(dockSN, videoID, func(e map[string]any) bool {
		// As a Dock 3 does: the entry is named by the lens in use.
		return e["status"] == 1.0 && e["video_quality"] == 3.0 && e["video_type"] == "wide" && e["error_status"] == 0.0 &&
			e["video_id"] == m4tdSN+"/99-0-0/wide-0"
	}))
	codec, w, h, frames := pr.result(t)
	if codec != "h264" || w != 640 || h != 360 || frames <= 0 {
		t.Fatalf("ffprobe decoded %s %dx%d, %d frames; want h264 640x360 with frames", codec, w, h, frames)
	}
	t.Logf("ffprobe decoded %d frames of h264 %dx%d from the dock's push", frames, w, h)

	// The reader went away: the dock reports congestion while it retries.
	v5.find(t, "live_status error_status", statusWith(dockSN, videoID, func(e map[string]any) bool {
		return e["status"] == 1.0 && e["error_status"] == 513015.0
	}))

	// Lens change: dock requests may carry only video_type.
	tid = service(t, port, dockSN, "live_lens_change", map[string]any{"video_type": "zoom"})
	if r := v5.find(t, "lens reply", replyTo(dockSN, tid)); r.data()["result"] != 0.0 {
		t.Fatalf("live_lens_change: %s", r.Raw)
	}
	v5.find(t, "live_capacity with the zoom lens", func(m message) bool {
		return stateWith(dockSN, "live_capacity")(m) && strings.Contains(m.Raw,
			`"camera_index":"99-0-0","available_video_number":1,"coexist_video_number_max":1,"video_list":[{"video_index":"normal-0","video_type":"zoom"`)
	})
	v5.find(t, "live_status with the zoom lens", statusWith(dockSN, videoID, func(e map[string]any) bool {
		return e["video_type"] == "zoom"
	}))

	tid = service(t, port, dockSN, "live_stop_push", map[string]any{"video_id": videoID})
	if r := v5.find(t, "stop reply", replyTo(dockSN, tid)); r.data()["result"] != 0.0 {
		t.Fatalf("live_stop_push: %s", r.Raw)
	}
	v5.find(t, "live_status stopped", statusWith(dockSN, videoID, func(e map[string]any) bool {
		return e["status"] == 0.0 && e["error_status"] == 0.0
	}))

	// Agora (never simulated), a GB28181 url without its keys, a WHIP URL
	// nobody answers, and a stop of nothing.
	for _, c := range []struct {
		name    string
		urlType int
		url     string
		want    float64
	}{
		{"url_type 0", 0, "channel=x&sn=y&token=z&uid=1", 513013},
		{"url_type 3 without agentID and channel", 3, "serverIP=127.0.0.1&serverPort=5060", 513014},
		{"url_type 4 to a closed port", 4, "http://127.0.0.1:1/rtc/v1/whip/?app=a&stream=b", 513010},
		// Firmware 17.01.0506 refuses a WHIP url without /rtc/v1/whip/.
		{"url_type 4 in the /P/whip form", 4, "http://127.0.0.1:1/live/a/whip", 513014},
	} {
		tid = service(t, port, dockSN, "live_start_push", map[string]any{"url_type": c.urlType, "url": c.url, "video_id": videoID})
		if r := v5.find(t, "reply", replyTo(dockSN, tid)); r.data()["result"] != c.want {
			t.Fatalf("%s: want %.0f: %s", c.name, c.want, r.Raw)
		}
	}
	tid = service(t, port, dockSN, "live_stop_push", map[string]any{"video_id": videoID})
	if r := v5.find(t, "reply", replyTo(dockSN, tid)); r.data()["result"] != 513011.0 {
		t.Fatalf("stop when not live: want 513011: %s", r.Raw)
	}
	tid = service(t, port, dockSN, "cover_open", map[string]any{})
	if r := v5.find(t, "reply", replyTo(dockSN, tid)); r.data()["result"] != 0.0 || r.str("method") != "cover_open" {
		t.Fatalf("other services answer 0: %s", r.Raw)
	}

	if strings.Contains(logs.String(), "s3cr3t") {
		t.Fatal("the push URL's secret query reached the log")
	}
	if !strings.Contains(logs.String(), "url=rtmp://127.0.0.1:") || !strings.Contains(logs.String(), "/live/x?REDACTED") {
		t.Fatal("the push URL is not logged in redacted form")
	}
}

// The RC speaks MQTT 5; a 3.1.1 client sees it, and its capacity lists the
// M4T's camera only.
func TestRCOverMQTT5(t *testing.T) {
	broker, port := startMosquitto(t)
	v311 := subscribe(t, port, "mqttv311", "#")
	n := make(notes, 1000)
	opts, _ := testOptions(t, broker, 5, n)
	runDevice(t, sim.RC{Options: opts}.Run)

	topo := v311.find(t, "update_topo", func(m message) bool { return m.Topic == "sys/product/"+rcSN+"/status" })
	if d := topo.data(); d["domain"] != "2" || d["type"] != 174.0 {
		t.Fatalf("RC update_topo: %s", topo.Raw)
	}
	v311.find(t, "aircraft osd", func(m message) bool { return m.Topic == "thing/product/"+m4tSN+"/osd" })
	capMsg := v311.find(t, "live_capacity", stateWith(rcSN, "live_capacity"))
	if got := capacityIDs(capMsg); !slices.Equal(got, []string{m4tSN + "/89-0-0/normal-0"}) {
		t.Fatalf("RC live_capacity video ids %v", got)
	}
	tid := service(t, port, rcSN, "live_start_push", map[string]any{
		"url_type": 0, "url": "channel=x", "video_id": m4tSN + "/89-0-0/normal-0",
	})
	if r := v311.find(t, "reply", replyTo(rcSN, tid)); r.data()["result"] != 613013.0 {
		t.Fatalf("Pilot error codes start with 6: %s", r.Raw)
	}
	tid = service(t, port, rcSN, "live_start_push", map[string]any{
		"url_type": 1, "url": "rtmp://127.0.0.1:1/live/x", "video_id": "NOSUCHAIRCRAFT/89-0-0/normal-0",
	})
	if r := v311.find(t, "reply", replyTo(rcSN, tid)); r.data()["result"] != 613001.0 {
		t.Fatalf("unknown aircraft: want 613001: %s", r.Raw)
	}
}

// Both protocol versions log in with a username and password (the broker
// allows nobody else), given as options or in the broker URL.
func TestBrokerCredentials(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	out, err := exec.Command(tool(t, "mosquitto_passwd", "mosquitto"), "-c", "-b", passwd, "dock", "pa:ss w0rd").CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	// Started as root, mosquitto reads the file as user mosquitto.
	for _, p := range []string{filepath.Dir(dir), dir} {
		_ = os.Chmod(p, 0o755)
	}
	_ = os.Chmod(passwd, 0o644)
	broker, port := startMosquittoWith(t, "allow_anonymous false\npassword_file "+passwd+"\n")
	sub := subscribe(t, port, "mqttv5", "sys/#", "dock", "pa:ss w0rd")
	for _, version := range []int{4, 5} {
		n := make(notes, 100)
		opts, _ := testOptions(t, broker, version, n)
		opts.Username, opts.Password = "dock", "pa:ss w0rd"
		sn := fmt.Sprintf("DOCK3SIMAUTH%03d", version)
		runDevice(t, sim.Dock{SN: sn, Options: opts}.Run)
		sub.find(t, "update_topo of "+sn, topicIs("sys/product/"+sn+"/status"))
	}
	n := make(notes, 100)
	opts, _ := testOptions(t, strings.Replace(broker, "tcp://", "tcp://dock:pa%3Ass%20w0rd@", 1), 5, n)
	runDevice(t, sim.RC{Options: opts}.Run)
	sub.find(t, "update_topo of the RC", topicIs("sys/product/"+rcSN+"/status"))
}

// Failure injection: 513006 twice then success, set through the HTTP
// control endpoint; an ignored command; a slow reply; a dropped MQTT
// connection; a media gap after which the push reconnects to the same URL.
func TestFaultInjection(t *testing.T) {
	broker, port := startMosquitto(t)
	sub := subscribe(t, port, "mqttv5", "#")
	n := make(notes, 1000)
	opts, _ := testOptions(t, broker, 4, n)
	ctl := httptest.NewServer(sim.ControlHandler(map[string]*sim.Faults{dockSN: opts.Faults}))
	defer ctl.Close()
	runDevice(t, sim.Dock{Options: opts}.Run)
	n.wait(t, "connected", func(x sim.Note) bool { return x.Kind == sim.NoteConnected })

	inject := func(body string) {
		t.Helper()
		resp, err := http.Post(ctl.URL+"/inject?sn="+dockSN, "application/json", bytes.NewBufferString(body))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /inject %s: %v %v", body, resp, err)
		}
		resp.Body.Close()
	}
	inject(`{"start_push_code": 513006, "start_push_times": 2}`)

	videoID := dockSN + "/165-0-7/normal-0"
	first := startProbe(t, 0, 0) // reads until the publisher goes away
	start := map[string]any{"url_type": 1, "url": first.URL, "video_id": videoID, "video_quality": 0}
	for i, want := range []float64{513006, 513006, 0} {
		tid := service(t, port, dockSN, "live_start_push", start)
		if r := sub.find(t, "start reply", replyTo(dockSN, tid)); r.data()["result"] != want {
			t.Fatalf("start %d: want %v: %s", i+1, want, r.Raw)
		}
	}

	// A media gap: the dock stops sending (the first reader sees the end of
	// the stream), then pushes to the same URL again, where a second reader
	// now listens.
	inject(`{"media_gap": "500ms"}`)
	if codec, _, _, frames := first.result(t); codec != "h264" || frames <= 0 {
		t.Fatalf("after two injected failures the push did not arrive: %s, %d frames", codec, frames)
	}
	second := startProbe(t, first.port, 1)
	n.wait(t, "push resumed", func(x sim.Note) bool { return x.Kind == sim.NotePushResumed && x.VideoID == videoID })
	if codec, _, _, frames := second.result(t); codec != "h264" || frames <= 0 {
		t.Fatalf("after the media gap: %s, %d frames", codec, frames)
	}

	// An ignored command gets no reply; the next one does.
	inject(`{"no_reply": 1}`)
	mark := sub.mark()
	ignored := service(t, port, dockSN, "live_set_quality", map[string]any{"video_id": videoID, "video_quality": 2})
	n.wait(t, "ignored", func(x sim.Note) bool { return x.Kind == sim.NoteIgnored })
	tid := service(t, port, dockSN, "live_set_quality", map[string]any{"video_id": videoID, "video_quality": 2})
	r, _ := sub.findSince(t, mark, "a services_reply", topicIs("thing/product/"+dockSN+"/services_reply"))
	if r.str("tid") != tid || r.data()["result"] != 0.0 {
		t.Fatalf("want only the reply to %s, got %s (ignored was %s)", tid, r.Raw, ignored)
	}

	// A slow reply.
	inject(`{"reply_delay": "400ms"}`)
	sent := time.Now()
	tid = service(t, port, dockSN, "live_set_quality", map[string]any{"video_id": videoID, "video_quality": 3})
	sub.find(t, "delayed reply", replyTo(dockSN, tid))
	if d := time.Since(sent); d < 400*time.Millisecond {
		t.Fatalf("reply came after %v, want at least the injected 400ms", d)
	}
	inject(`{"clear": true}`)

	// A dropped MQTT connection: the dock reconnects and announces itself again.
	inject(`{"drop_mqtt": true, "drop_mqtt_for": "200ms"}`)
	n.wait(t, "disconnected", func(x sim.Note) bool { return x.Kind == sim.NoteDisconnected })
	mark = sub.mark()
	n.wait(t, "reconnected", func(x sim.Note) bool { return x.Kind == sim.NoteConnected })
	sub.findSince(t, mark, "update_topo after reconnect", topicIs("sys/product/"+dockSN+"/status"))

	tid = service(t, port, dockSN, "live_stop_push", map[string]any{"video_id": videoID})
	if r := sub.find(t, "stop reply", replyTo(dockSN, tid)); r.data()["result"] != 0.0 {
		t.Fatalf("stop: %s", r.Raw)
	}
}

// capacityIDs lists the video_ids a live_capacity state offers.
func capacityIDs(m message) []string {
	var ids []string
	c, _ := m.data()["live_capacity"].(map[string]any)
	devs, _ := c["device_list"].([]any)
	for _, d := range devs {
		d := d.(map[string]any)
		cams, _ := d["camera_list"].([]any)
		for _, cm := range cams {
			cm := cm.(map[string]any)
			vids, _ := cm["video_list"].([]any)
			for _, v := range vids {
				ids = append(ids, d["sn"].(string)+"/"+cm["camera_index"].(string)+"/"+v.(map[string]any)["video_index"].(string))
			}
		}
	}
	return ids
}
