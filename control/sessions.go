package control

import (
	"net/http"
	"sort"
	"sync"
	"time"
)

// sessionTable holds the live sessions by video_id, apart from the
// registry: sessions are what Skyrelay drives, the registry what the
// devices report. Its lock is its own; nothing outside this file takes it.
type sessionTable struct {
	mu      sync.Mutex
	byVideo map[string]*session
	closing bool
}

// get returns the session of a video_id (ended ones included).
func (t *sessionTable) get(videoID string) *session {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byVideo[videoID]
}

// join returns the active session of videoID, or adds the one mk makes:
// one start per camera is in flight, whoever asks. check runs first when
// there is none to join, with the active sessions (its error is returned);
// a closing table refuses with a 503. check and mk run under the lock, so
// no other start nor Close can come between the check and the start.
func (t *sessionTable) join(videoID string, check func(active []*session) *APIError, mk func() *session) (s *session, joined bool, aerr *APIError) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.byVideo[videoID]; old != nil && !old.isEnded() {
		return old, true, nil
	}
	var active []*session
	for _, s := range t.byVideo {
		if !s.isEnded() {
			active = append(active, s)
		}
	}
	if aerr := check(active); aerr != nil {
		return nil, false, aerr
	}
	if t.closing {
		return nil, false, &APIError{Status: http.StatusServiceUnavailable, Code: "closing", Message: "shutting down"}
	}
	if t.byVideo == nil {
		t.byVideo = map[string]*session{}
	}
	s = mk()
	t.byVideo[videoID] = s
	return s, false, nil
}

// remove forgets s if it is still its video's session.
func (t *sessionTable) remove(s *session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byVideo[s.v.VideoID] == s {
		delete(t.byVideo, s.v.VideoID)
	}
}

// views lists the sessions as the API shows them, by video_id.
func (t *sessionTable) views() []Session {
	t.mu.Lock()
	ss := make([]*session, 0, len(t.byVideo))
	for _, s := range t.byVideo {
		ss = append(ss, s)
	}
	t.mu.Unlock()
	out := make([]Session, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.view())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].VideoID < out[j].VideoID })
	return out
}

// activeOf returns the active sessions of a device.
func (t *sessionTable) activeOf(dev string) []*session {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*session
	for _, s := range t.byVideo {
		if s.v.Gateway == dev && !s.isEnded() {
			out = append(out, s)
		}
	}
	return out
}

// forgetEnded drops sessions ended more than kept ago.
func (t *sessionTable) forgetEnded(now time.Time, kept time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, s := range t.byVideo {
		s.mu.Lock()
		old := s.ended && s.v.EndedAt != nil && now.Sub(*s.v.EndedAt) > kept
		s.mu.Unlock()
		if old {
			delete(t.byVideo, id)
		}
	}
}

// ifOpen runs fn under the lock unless the table is closing; it tells
// whether fn ran. Goroutines Close must wait for are started this way.
func (t *sessionTable) ifOpen(fn func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false
	}
	fn()
	return true
}

// close marks the table closing and returns every session; first is false
// when it was closing already.
func (t *sessionTable) close() (all []*session, first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return nil, false
	}
	t.closing = true
	for _, s := range t.byVideo {
		all = append(all, s)
	}
	return all, true
}
