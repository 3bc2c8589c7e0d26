package control

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one entry of GET /api/v1/events.
type Event struct {
	// Type is one of the EventXxx constants.
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	// SN is the device the event is about, Gateway its gateway.
	SN      string `json:"sn,omitempty"`
	Gateway string `json:"gateway,omitempty"`
	// Path is the stream path (a video_id) of stream and session events.
	Path string `json:"path,omitempty"`
	Data any    `json:"data,omitempty"`
}

// Event types.
const (
	EventDeviceOnline     = "device_online"
	EventDeviceOffline    = "device_offline"
	EventTopology         = "topology"       // sub-devices came or went
	EventState            = "state"          // changed state keys, with values
	EventDeviceEvent      = "event"          // a device's events message
	EventRequest          = "request"        // a device asked for something
	EventServicesReply    = "services_reply" // a device answered a command
	EventPropertySetReply = "property_set_reply"
	EventDRC              = "drc"            // drc/up replies (periodic *_push are left out)
	EventSession          = "session"        // a live session changed step
	EventStream           = "stream"         // the media gateway: ready, gone, readers...
	EventMQTT             = "mqtt"           // broker connection up or down
	EventGB28181Device    = "gb28181_device" // a GB28181 device came online or went offline
	EventOSD              = "osd"            // a device's merged osd, at most twice a second
)

// Publish puts an event from another part of Skyrelay (e.g. the GB28181
// platform's device presence) on the event stream, beside the plane's own.
func (p *Plane) Publish(ev Event) { p.events.publish(ev) }

// eventBus fans events out to the SSE clients. Publishing never blocks a
// device's message handler: a client that falls behind by more than its
// buffer is cut off (it reconnects) instead.
type eventBus struct {
	mu     sync.Mutex
	subs   map[*eventSub]struct{}
	n      atomic.Int32
	seq    uint64
	closed bool
}

type eventSub struct {
	ch       chan []byte
	overflow bool
}

const subBuffer = 1024

// active tells whether anyone listens; producers skip building events when
// nobody does.
func (b *eventBus) active() bool { return b.n.Load() > 0 }

func (b *eventBus) publish(ev Event) {
	if !b.active() {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	frame := []byte(fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", b.seq, ev.Type, data))
	for s := range b.subs {
		select {
		case s.ch <- frame:
		default:
			s.overflow = true
			close(s.ch)
			delete(b.subs, s)
			b.n.Add(-1)
		}
	}
}

func (b *eventBus) subscribe() *eventSub {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &eventSub{ch: make(chan []byte, subBuffer)}
	if b.closed {
		close(s.ch)
		return s
	}
	if b.subs == nil {
		b.subs = map[*eventSub]struct{}{}
	}
	b.subs[s] = struct{}{}
	b.n.Add(1)
	return s
}

func (b *eventBus) unsubscribe(s *eventSub) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.ch)
		b.n.Add(-1)
	}
}

func (b *eventBus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		close(s.ch)
		delete(b.subs, s)
	}
	b.n.Store(0)
}

// serveEvents streams events as Server-Sent Events. A comment line is sent
// at once, so a client knows it is subscribed, and every 15 s after that.
func (p api) serveEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "no_streaming", "this connection cannot stream events")
		return
	}
	s := p.events.subscribe()
	defer p.events.unsubscribe(s)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(": subscribed\n\n"))
	fl.Flush()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case frame, ok := <-s.ch:
			if !ok {
				if s.overflow {
					_, _ = w.Write([]byte(": too slow, events were dropped; reconnect\n\n"))
					fl.Flush()
				}
				return
			}
			if _, err := w.Write(frame); err != nil {
				return
			}
			// Drain what is queued before flushing once.
			for n := len(s.ch); n > 0; n-- {
				if f, ok := <-s.ch; ok {
					_, _ = w.Write(f)
				}
			}
			fl.Flush()
		case <-keep.C:
			if _, err := w.Write([]byte(": keepalive\n\n")); err != nil {
				return
			}
			fl.Flush()
		case <-r.Context().Done():
			return
		}
	}
}
