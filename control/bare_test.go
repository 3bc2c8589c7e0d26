package control

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/control/broker"
)

// recordBus stands in for the broker in table tests: it records what the
// plane publishes, and a scripted device may answer commands.
type recordBus struct {
	mu   sync.Mutex
	msgs []busMsg
	// device answers a command published on a services topic; it runs on
	// its own goroutine, as a real device would answer.
	device func(topic string, payload []byte)
}

type busMsg struct {
	topic   string
	payload map[string]json.RawMessage
}

func (b *recordBus) record(topic string, payload []byte) {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(payload, &m)
	b.mu.Lock()
	b.msgs = append(b.msgs, busMsg{topic, m})
	b.mu.Unlock()
}

func (b *recordBus) Publish(_ context.Context, topic string, payload []byte) error {
	b.record(topic, payload)
	b.mu.Lock()
	dev := b.device
	b.mu.Unlock()
	if dev != nil {
		go dev(topic, payload)
	}
	return nil
}
func (b *recordBus) Subscribe([]string, broker.Handler) error { return nil }
func (b *recordBus) Send(topic string, payload []byte)        { b.record(topic, payload) }

// on returns what was published on topic, oldest first.
func (b *recordBus) on(topic string) []busMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []busMsg
	for _, m := range b.msgs {
		if m.topic == topic {
			out = append(out, m)
		}
	}
	return out
}

// count counts the commands of method published so far.
func (b *recordBus) count(method string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, m := range b.msgs {
		if strings.HasSuffix(m.topic, "/services") && strings.Contains(string(m.payload["method"]), `"`+method+`"`) {
			n++
		}
	}
	return n
}

// bare is a plane without a broker, fed through onMessage.
type bare struct {
	*Plane
	bus   *recordBus
	media *fakeMedia
}

func newBare(t testing.TB) *bare {
	t.Helper()
	media := newFakeMedia()
	p := New(embeddedConfig(), fastConfig(), media, testLogger(t))
	b := &bare{Plane: p, bus: &recordBus{}, media: media}
	p.bus = b.bus
	t.Cleanup(p.Close)
	return b
}

// in hands the plane one message as if a device had published it.
func (b *bare) in(topic, payload string) { b.onMessage(topic, []byte(payload)) }

// dock3 announces a Dock 3 with its aircraft and their three cameras.
func (b *bare) dock3(dock, air string) {
	b.in("sys/product/"+dock+"/status", topoMsg(nextTID("topo"), dock, air))
	b.in("thing/product/"+dock+"/state", msg(nextTID("cap"), "", dockCapacity(dock, air), map[string]any{"gateway": dock}))
}

// reply is a services_reply to a command the plane published.
func reply(cmd []byte, result any) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(cmd, &m)
	return fmt.Sprintf(`{"tid":%s,"bid":%s,"timestamp":%d,"method":%s,"data":{"result":%v}}`,
		m["tid"], m["bid"], time.Now().UnixMilli(), m["method"], mustJSON(result))
}

// subOf returns the sub-device sn of device d.
func subOf(d Device, sn string) (SubDevice, bool) {
	for _, s := range d.SubDevices {
		if s.SN == sn {
			return s, true
		}
	}
	return SubDevice{}, false
}

// hmsEvent is an HMS event a Dock 3 forwards on its aircraft's events
// topic, with the dock in "gateway" (docs/dji-cloud-api.md, events).
func hmsEvent(tid, dock string) string {
	return msg(tid, "hms", map[string]any{"list": []any{map[string]any{
		"level": 1, "module": 3, "in_the_sky": 0, "code": "0x16100083", "device_type": "0-100-1", "imminent": 0,
		"args": map[string]any{"component_index": 0, "sensor_index": 0}}}},
		map[string]any{"gateway": dock, "need_reply": 1})
}
