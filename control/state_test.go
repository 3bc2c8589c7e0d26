package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink tests read while the plane writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newBareLogged is a bare plane whose log (debug level) the test reads.
func newBareLogged(t testing.TB) (*bare, *syncBuffer) {
	b := newBare(t)
	buf := &syncBuffer{}
	b.log = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return b, buf
}

// stored is what a message may change about a device, for comparison.
func stored(t *testing.T, p *Plane, sn string) string {
	t.Helper()
	d, ok := p.Device(sn)
	if !ok {
		t.Fatalf("no device %s", sn)
	}
	for i := range d.SubDevices {
		d.SubDevices[i].LastSeen = time.Time{} // liveness, not state
	}
	b, _ := json.Marshal(struct {
		State, OSD, Capacity any
		Cameras              []Camera
		Live                 []LiveStatus
		Subs                 []SubDevice
	}{d.State, d.OSD, d.LiveCapacity, d.Cameras, d.LiveStatus, d.SubDevices})
	return string(b)
}

// TestMalformedStateChangesNothing: a state message with any part of the
// wrong shape is counted, logged with its topic and what was wrong, leaves
// the stored state exactly as it was, and still gets a state_reply (with a
// failure result) when it asks for one.
func TestMalformedStateChangesNothing(t *testing.T) {
	const dock, air = "DOCKM", "AIRM"
	cases := []struct {
		name  string
		sn    string
		data  string // the data value, raw
		why   string // in the log
		reply bool
	}{
		{"live_capacity a string", dock, `{"live_capacity":"not-an-object"}`, "live_capacity is a string", false},
		{"live_capacity lists not lists", dock, `{"live_capacity":{"available_video_number":3,"device_list":"none"}}`, "live_capacity", false},
		{"live_status object with a number video_id", dock, `{"live_status":{"video_id":5}}`, "video_id is a number", false},
		{"live_status entry with a number video_id", dock, `{"live_status":[{"video_id":5,"status":1}]}`, "video_id is a number", false},
		{"live_status status a word", dock, `{"live_status":[{"video_id":"AIRM/99-0-0/normal-0","status":"on"}]}`, "status is a string", false},
		{"live_status a string", dock, `{"live_status":"none"}`, "live_status is a string", false},
		{"a valid key beside a bad one", dock, `{"firmware_version":"2.0","live_capacity":[1]}`, "live_capacity is an array", true},
		{"data a string, need_reply", dock, `"a string"`, "not", true},
		{"data an array, need_reply, aircraft", air, `[1,2]`, "not", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, logs := newBareLogged(t)
			b.dock3(dock, air)
			b.in("thing/product/"+dock+"/state", msg(nextTID("ls"), "", map[string]any{"firmware_version": "1.0", "live_status": []any{
				map[string]any{"video_id": air + "/99-0-0/normal-0", "video_type": "zoom", "video_quality": 3, "status": 1, "error_status": 0},
				map[string]any{"video_id": dock + "/165-0-7/normal-0", "video_type": "normal", "video_quality": 3, "status": 1, "error_status": 0},
			}}, map[string]any{"gateway": dock}))
			b.in("thing/product/"+air+"/state", msg(nextTID("st"), "", map[string]any{"rth_mode": 1}, map[string]any{"gateway": dock}))
			before := stored(t, b.Plane, dock)
			count := malformedCount(t, b.Plane)

			tid := nextTID("bad")
			extra := `,"gateway":"` + dock + `"`
			if c.reply {
				extra += `,"need_reply":1`
			}
			topic := "thing/product/" + c.sn + "/state"
			b.in(topic, `{"tid":"`+tid+`","bid":"b","timestamp":1`+extra+`,"data":`+c.data+`}`)

			if got := malformedCount(t, b.Plane) - count; got != 1 {
				t.Errorf("counted %v malformed, want 1", got)
			}
			if after := stored(t, b.Plane, dock); after != before {
				t.Errorf("stored state changed:\nbefore %s\nafter  %s", before, after)
			}
			line := ""
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "malformed") {
					line = l
				}
			}
			if !strings.Contains(line, "topic="+topic) || !strings.Contains(line, c.why) {
				t.Errorf("log line %q does not name topic %s and %q", line, topic, c.why)
			}
			replies := b.bus.on(topic + "_reply")
			if c.reply {
				if len(replies) != 1 || cloudapiString(replies[0].payload["tid"]) != tid || !strings.Contains(string(replies[0].payload["data"]), `"result":1`) {
					t.Errorf("state_reply = %+v, want one with tid %s and result 1", replies, tid)
				}
			} else if len(replies) != 0 {
				t.Errorf("answered a state that did not ask: %+v", replies)
			}
		})
	}
}

// TestServicesReplyResultMustBeANumber: "result":"abc" is no success.
func TestServicesReplyResultMustBeANumber(t *testing.T) {
	const dock = "DOCKSR"
	for _, c := range []struct {
		result any
		ok     bool
		code   int
	}{
		{0, true, 0}, {"0", true, 0}, {513003, true, 513003},
		{"abc", false, 0}, {map[string]any{"x": 1}, false, 0}, {nil, false, 0}, {true, false, 0},
	} {
		b := newBare(t)
		b.dock3(dock, "AIRSR")
		b.bus.device = func(topic string, payload []byte) {
			b.in("thing/product/"+dock+"/services_reply", reply(payload, c.result))
		}
		count := malformedCount(t, b.Plane)
		rep, err := b.call(context.Background(), dock, "debug_mode_open", "", nil)
		if c.ok {
			if err != nil || rep.Result != c.code {
				t.Errorf("result %v: %+v %v, want result %d", c.result, rep, err, c.code)
			}
			continue
		}
		if !errors.Is(err, errMalformedReply) {
			t.Errorf("result %s: err = %v, want a malformed reply", mustJSON(c.result), err)
		}
		if e := callError("debug_mode_open", err, 0); e.Status != 502 || e.Code != "malformed_reply" {
			t.Errorf("result %s: API error %+v", mustJSON(c.result), e)
		}
		if malformedCount(t, b.Plane)-count != 1 {
			t.Errorf("result %s: not counted as malformed", mustJSON(c.result))
		}
	}
}

func cloudapiString(v json.RawMessage) string {
	var s string
	_ = json.Unmarshal(v, &s)
	return s
}
