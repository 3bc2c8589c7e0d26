package rtsp

import (
	"sync"
	"time"
)

// logEvery is the shortest interval between two log lines of one kind
// about one session or path: a broken client must not flood the log.
const logEvery = 5 * time.Second

// rateLimiter lets one event per key through every logEvery and counts the
// ones it held back, so the next line can say how many there were.
type rateLimiter struct {
	mu   sync.Mutex
	last map[string]limited
}

type limited struct {
	at     time.Time
	hidden int
}

// allow reports whether an event of key may be logged now, and how many
// were suppressed since the last one that was.
func (r *rateLimiter) allow(key string) (bool, int) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]limited{}
	}
	l := r.last[key]
	if now.Sub(l.at) < logEvery {
		l.hidden++
		r.last[key] = l
		return false, 0
	}
	r.last[key] = limited{at: now}
	if len(r.last) > 4096 { // forget old keys rather than grow forever
		for k, v := range r.last {
			if now.Sub(v.at) >= logEvery {
				delete(r.last, k)
			}
		}
	}
	return true, l.hidden
}
