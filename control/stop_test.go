package control

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestStopReasonIsTheFirstTrueOne: a stop asked for is followed by the
// device reporting the push ended and by the media going away, in any
// order; the session keeps the stop's own cause. Without a stop asked,
// the device's report or the media timeout is the cause.
func TestStopReasonIsTheFirstTrueOne(t *testing.T) {
	const dock, air = "DOCKS", "AIRS"
	vid := air + "/99-0-0/normal-0"
	cases := []struct {
		name string
		// stop ends the session; it runs once the session is playable.
		stop func(t *testing.T, b *bare, srv *httptest.Server)
		// aftermath is what the device and the media do on live_stop_push,
		// before the device replies.
		aftermath []string
		cause     string
		by        string
		reason    string
	}{
		{"API stop, device report first", apiStop, []string{"live_status 0", "media gone"}, EndAPI, "127.0.0.1", "stopped through the API by 127.0.0.1"},
		{"API stop, media gone first", apiStop, []string{"media gone", "live_status 0"}, EndAPI, "127.0.0.1", "stopped through the API"},
		{"API stop, quiet device", apiStop, nil, EndAPI, "127.0.0.1", "stopped through the API"},
		{"API stop, device offline before it confirms", apiStop, []string{"offline"}, EndAPI, "127.0.0.1", "stopped through the API"},
		{"idle stop, device report first", idleStop, []string{"live_status 0", "media gone"}, EndIdle, "", "no viewer"},
		{"device report", func(t *testing.T, b *bare, _ *httptest.Server) { liveStatus(b, dock, air, 0, 0) }, nil, EndDevice, "", "the device reports the push ended"},
		{"device report of an error", func(t *testing.T, b *bare, _ *httptest.Server) { liveStatus(b, dock, air, 0, 513015) }, nil, EndDevice, "", "the device reports the push broke"},
		{"media timeout", func(t *testing.T, b *bare, _ *httptest.Server) {
			b.media.reset(vid)
			b.StreamEvent(vid, StreamGone, 0)
		}, nil, EndMediaTimeout, "", "did not come back"},
		{"shutdown", func(t *testing.T, b *bare, _ *httptest.Server) { b.Close() }, nil, EndShutdown, "", "shutting down"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBare(t)
			b.Config.ReadyTimeout = 200 * time.Millisecond
			b.dock3(dock, air)
			srv := httptest.NewServer(apiHandler(b.Plane))
			t.Cleanup(srv.Close)
			b.bus.device = func(topic string, payload []byte) {
				if strings.Contains(string(payload), `"live_stop_push"`) {
					for _, a := range c.aftermath {
						switch a {
						case "live_status 0":
							liveStatus(b, dock, air, 0, 0)
						case "offline":
							b.onDeviceOffline(dock)
						case "media gone":
							b.media.reset(vid)
							b.StreamEvent(vid, StreamGone, 0)
						}
					}
				}
				b.in("thing/product/"+dock+"/services_reply", reply(payload, 0))
			}
			b.media.setReady(vid)
			s, _, aerr := b.startSession(startRequest{VideoID: vid, Protocol: "rtmp"}, "api")
			if aerr != nil {
				t.Fatal(aerr)
			}
			waitFor(t, "playable", func() bool { return s.view().State == StepPlayable })
			liveStatus(b, dock, air, 1, 0)
			c.stop(t, b, srv)
			waitFor(t, "the end", func() bool { return s.isEnded() })
			v := s.view()
			if v.End == nil || v.End.Cause != c.cause || v.End.By != c.by || !strings.Contains(v.Reason, c.reason) {
				t.Errorf("ended %s %+v %q, want cause %s by %q, reason with %q", v.State, v.End, v.Reason, c.cause, c.by, c.reason)
			}
			// The API says it too.
			var got Session
			if code := doHTTP(t, "GET", srv.URL+"/api/v1/live/"+vid, "", &got); code != 200 || got.End == nil || got.End.Cause != c.cause {
				raw, _ := json.Marshal(got)
				t.Errorf("GET session = %d %s", code, raw)
			}
		})
	}
}

func apiStop(t *testing.T, b *bare, srv *httptest.Server) {
	if code := doHTTP(t, "DELETE", srv.URL+"/api/v1/live/AIRS/99-0-0/normal-0", "", nil); code != 204 {
		t.Fatalf("DELETE = %d", code)
	}
}

func idleStop(t *testing.T, b *bare, _ *httptest.Server) {
	b.Config.IdleStopAfter = time.Millisecond
	s := b.session("AIRS/99-0-0/normal-0")
	s.mu.Lock()
	if s.idle != nil { // armed with the default delay when it became playable
		s.idle.Stop()
		s.idle = nil
	}
	s.mu.Unlock()
	b.StreamEvent("AIRS/99-0-0/normal-0", StreamReaders, 0)
}

// liveStatus reports the aircraft's main camera as a Dock 3 does (the
// current lens in the video_id).
func liveStatus(b *bare, dock, air string, status, errorStatus int) {
	b.in("thing/product/"+dock+"/state", msg(nextTID("ls"), "", map[string]any{"live_status": []any{
		map[string]any{"video_id": air + "/99-0-0/wide-0", "video_type": "wide", "video_quality": 3, "status": status, "error_status": errorStatus}}},
		map[string]any{"gateway": dock}))
}
