package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
)

// Errors of the path registry.
var (
	ErrPathBusy    = errors.New("path already has a publisher")
	ErrNotFound    = errors.New("no stream on this path")
	ErrInvalidPath = errors.New("invalid path")
)

// EventKind names a change in the registry.
type EventKind string

// Kinds of Event.
const (
	EventReady   EventKind = "ready"   // a stream became playable
	EventGone    EventKind = "gone"    // a stream ended for good
	EventReaders EventKind = "readers" // the number of readers changed
	EventLost    EventKind = "lost"    // the publisher dropped; grace period runs
	EventBack    EventKind = "back"    // a publisher continued a stream in grace
)

// Event tells the control plane (and the event stream) what streams do.
type Event struct {
	Kind    EventKind
	Path    string
	Readers int
}

// Hub is the registry of paths. Create it with NewHub.
type Hub struct {
	// Grace is how long a stream waits for its publisher to come back.
	Grace time.Duration
	// OnDemand, when set, is asked to start a path a reader wants but that
	// has no stream (a DJI video_id the device is not pushing yet).
	OnDemand func(ctx context.Context, path string) error
	// OnEvent, when set, is called for every Event, never with locks held.
	OnEvent func(Event)
	Log     *slog.Logger

	mu      sync.Mutex
	streams map[string]*Stream
	events  chan Event
	metrics *metrics
	subsMu  sync.Mutex
	subs    []*subscriber
	stop    chan struct{}
	wg      sync.WaitGroup
}

// NewHub makes a registry with the given reconnect grace period.
func NewHub(grace time.Duration, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.Default()
	}
	h := &Hub{Grace: grace, Log: log, streams: map[string]*Stream{}, events: make(chan Event, 1024), stop: make(chan struct{})}
	h.metrics = newMetrics(h)
	h.wg.Add(1)
	go h.runEvents()
	return h
}

// Close ends every stream.
func (h *Hub) Close() {
	h.mu.Lock()
	streams := h.streams
	h.streams = map[string]*Stream{}
	h.mu.Unlock()
	for _, s := range streams {
		s.close()
	}
	close(h.stop)
	h.wg.Wait()
}

// ValidPath checks a stream path: slash-separated segments of letters,
// digits and -._~ (DJI video_ids such as SN/99-0-0/normal-0 fit).
func ValidPath(p string) error {
	if p == "" || len(p) > 256 || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return fmt.Errorf("%w: %q", ErrInvalidPath, p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q", ErrInvalidPath, p)
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c)) {
				return fmt.Errorf("%w: %q", ErrInvalidPath, p)
			}
		}
	}
	return nil
}

// Publish makes src the publisher of path. A path in its grace period with
// the same codecs continues its stream and keeps its readers; a path with a
// live publisher refuses a second one.
func (h *Hub) Publish(path string, src SourceInfo, tracks []*Track) (*Publisher, error) {
	if err := ValidPath(path); err != nil {
		return nil, err
	}
	if len(tracks) == 0 {
		return nil, errors.New("no track to publish")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.streams[path]; s != nil {
		s.mu.Lock()
		if s.pub != nil {
			s.mu.Unlock()
			return nil, ErrPathBusy
		}
		if compatible(s.tracks, tracks) {
			p := s.attach(src, tracks)
			s.mu.Unlock()
			s.reconnects.Add(1)
			h.metrics.reconnects.Add(1)
			h.Log.Info("publisher continued stream", "path", path, "protocol", src.Protocol, "remote", src.RemoteAddr)
			h.emitAsync(Event{Kind: EventBack, Path: path})
			return p, nil
		}
		s.mu.Unlock()
		delete(h.streams, path)
		go func() { s.close(); h.emit(Event{Kind: EventGone, Path: path}) }()
	}
	s, err := h.newStream(path, tracks)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	p := s.attach(src, tracks)
	s.mu.Unlock()
	h.streams[path] = s
	h.Log.Info("publisher started", "path", path, "protocol", src.Protocol, "remote", src.RemoteAddr, "tracks", len(tracks))
	return p, nil
}

func (h *Hub) newStream(path string, tracks []*Track) (*Stream, error) {
	s := &Stream{hub: h, path: path, tracks: tracks, ready: make(chan struct{})}
	for i, t := range tracks {
		t.Index = i
		p, err := newProcessor(t, &h.metrics.process, rand.Uint32())
		if err != nil {
			return nil, fmt.Errorf("track %d: %w", i, err)
		}
		s.procs = append(s.procs, p)
		if s.video == nil && t.Codec.IsVideo() {
			s.video = t
		}
	}
	return s, nil
}

// attach makes a new publisher current. s.mu is held.
func (s *Stream) attach(src SourceInfo, tracks []*Track) *Publisher {
	if s.grace != nil {
		s.grace.Stop()
		s.grace = nil
	}
	for i, p := range s.procs {
		p.keySeen = false
		p.decode = nil
		if i < len(tracks) && tracks[i] != s.tracks[i] {
			adoptParams(s.tracks[i], tracks[i], p)
		}
		_ = p.setDecoder()
	}
	pub := &Publisher{stream: s, info: src}
	s.pub, s.source = pub, src
	return pub
}

// publisherGone starts the grace period of a stream whose publisher left.
func (h *Hub) publisherGone(s *Stream) {
	h.emit(Event{Kind: EventLost, Path: s.path})
	if h.Grace <= 0 {
		h.remove(s)
		return
	}
	s.mu.Lock()
	if !s.closed && s.pub == nil {
		s.grace = time.AfterFunc(h.Grace, func() { h.remove(s) })
	}
	s.mu.Unlock()
}

// remove ends s unless a publisher came back in the meantime.
func (h *Hub) remove(s *Stream) {
	h.mu.Lock()
	s.mu.Lock()
	back := s.pub != nil
	s.mu.Unlock()
	if back || h.streams[s.path] != s {
		h.mu.Unlock()
		return
	}
	delete(h.streams, s.path)
	h.mu.Unlock()
	s.close()
	h.Log.Info("stream ended", "path", s.path)
	h.emit(Event{Kind: EventGone, Path: s.path})
}

// Stream returns the stream on path, or nil.
func (h *Hub) Stream(path string) *Stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.streams[path]
}

// Streams returns every stream, sorted by path.
func (h *Hub) Streams() []*Stream {
	h.mu.Lock()
	out := make([]*Stream, 0, len(h.streams))
	for _, s := range h.streams {
		out = append(out, s)
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// Read finds the stream a reader wants, starting it on demand when the
// path has none, and waits until it is playable or ctx ends.
func (h *Hub) Read(ctx context.Context, path string) (*Stream, error) {
	if err := ValidPath(path); err != nil {
		return nil, err
	}
	s := h.Stream(path)
	if s == nil {
		if h.OnDemand == nil {
			return nil, ErrNotFound
		}
		if err := h.OnDemand(ctx, path); err != nil {
			return nil, err
		}
		if s = h.Stream(path); s == nil {
			return nil, ErrNotFound
		}
	}
	select {
	case <-s.Ready():
		return s, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("stream %q is not playable yet: %w", path, ctx.Err())
	}
}

// WaitReady blocks until path has a playable stream or ctx ends.
func (h *Hub) WaitReady(ctx context.Context, path string) error {
	for {
		ch := make(chan struct{})
		h.mu.Lock()
		s := h.streams[path]
		h.mu.Unlock()
		if s != nil {
			select {
			case <-s.Ready():
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		// No stream yet: wait for the next event and look again.
		unsub := h.subscribe(func(ev Event) {
			if ev.Path == path {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		})
		if h.Stream(path) != nil {
			unsub()
			continue
		}
		select {
		case <-ch:
			unsub()
		case <-ctx.Done():
			unsub()
			return ctx.Err()
		}
	}
}
