package gateway

type subscriber struct{ fn func(Event) }

// subscribe adds an internal listener; the returned func removes it.
func (h *Hub) subscribe(fn func(Event)) func() {
	sub := &subscriber{fn: fn}
	h.subsMu.Lock()
	h.subs = append(h.subs, sub)
	h.subsMu.Unlock()
	return func() {
		h.subsMu.Lock()
		for i, x := range h.subs {
			if x == sub {
				h.subs = append(h.subs[:i:i], h.subs[i+1:]...)
				break
			}
		}
		h.subsMu.Unlock()
	}
}

// emit delivers an event in order; it must be called without stream locks.
func (h *Hub) emit(ev Event) {
	select {
	case h.events <- ev:
	case <-h.stop:
	}
}

// emitAsync is emit for callers that hold a stream lock: it never blocks;
// an event that does not fit is lost, which only a stalled OnEvent causes.
func (h *Hub) emitAsync(ev Event) {
	select {
	case h.events <- ev:
	default:
		h.Log.Warn("event queue full, event lost", "kind", ev.Kind, "path", ev.Path)
	}
}

func (h *Hub) runEvents() {
	defer h.wg.Done()
	for {
		select {
		case <-h.stop:
			return
		case ev := <-h.events:
			if h.OnEvent != nil {
				h.OnEvent(ev)
			}
			h.subsMu.Lock()
			subs := append([]*subscriber(nil), h.subs...)
			h.subsMu.Unlock()
			for _, s := range subs {
				s.fn(ev)
			}
		}
	}
}
