package webrtc

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// session is what a WHEP viewer (whepSession) and a WHIP publisher
// (whipSession) share: the capability URL's id and ETag, the peer, the log,
// and how the session is told to end and says it has.
type session struct {
	srv     *Server
	id      string
	path    string
	etag    string
	remote  string
	peer    *peer
	created time.Time
	log     *slog.Logger

	stopOnce sync.Once
	stopCh   chan struct{}
	reasonMu sync.Mutex
	reason   string
	done     chan struct{}
}

// init gives a new session of s on path its id and ETag; logKey labels the
// id in its log lines ("session" for WHEP, "whip").
func (x *session) init(s *Server, path, remote string, p *peer, logKey string) {
	x.srv, x.id, x.path, x.remote, x.peer = s, newID(), path, remote, p
	x.etag = `"` + newID()[:8] + `"`
	x.created = time.Now()
	x.log = s.Log.With("path", path, logKey, x.id[:8], "remote", remote)
	x.stopCh, x.done = make(chan struct{}), make(chan struct{})
}

// admit registers a session that has answered its offer (add, called under
// the server's lock, puts it into its map) unless the server is closing,
// learns the addresses its answer announced and logs the plan's notes. The
// caller then starts its run goroutine, which the server's WaitGroup counts.
func (x *session) admit(answer string, notes []string, add func()) error {
	s := x.srv
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return refuse(http.StatusServiceUnavailable, "closing", "the server is shutting down")
	}
	add()
	s.wg.Add(1)
	s.mu.Unlock()
	s.setAddresses(candidateAddresses(answer))
	for _, note := range notes {
		x.log.Info(note)
	}
	return nil
}

// stop asks the session to end; the first reason wins.
func (x *session) stop(reason string) {
	x.stopOnce.Do(func() {
		x.reasonMu.Lock()
		x.reason = reason
		x.reasonMu.Unlock()
		close(x.stopCh)
	})
}

// endReason is the reason stop was given, empty while it runs.
func (x *session) endReason() string {
	x.reasonMu.Lock()
	defer x.reasonMu.Unlock()
	return x.reason
}

// newID returns a random UUID (version 4): the session URL is the
// capability to change or end the session, so it must not be guessable.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// sessionByID finds a WHEP or WHIP session in the server's table m under
// mu, the lock that guards the table (it may be made lazily).
func sessionByID[T any](mu *sync.Mutex, m *map[string]T, id string) T {
	mu.Lock()
	defer mu.Unlock()
	return (*m)[id]
}

// forgetSession drops a session from the server's table m under mu.
func forgetSession[T any](mu *sync.Mutex, m *map[string]T, id string) {
	mu.Lock()
	delete(*m, id)
	mu.Unlock()
}
