package soak

import (
	"context"
	"math/rand/v2"
	"time"
)

// span is a random duration in [lo, hi).
type span struct{ lo, hi time.Duration }

func (s span) pick(r *rand.Rand) time.Duration {
	if s.hi <= s.lo {
		return s.lo
	}
	return s.lo + time.Duration(r.Int64N(int64(s.hi-s.lo)))
}

// phase tells a churning peer where the run is. Every peer connects and
// holds until begin closes (the warm-up, after which the start figures
// are taken with everyone connected); then it disconnects and reconnects
// at random until settle closes; then it stays connected (reconnecting
// if it was not) so that the end figures are taken in the same state as
// the start ones and every viewer can be checked; stop ends it.
type phase struct {
	begin, settle <-chan struct{}
	stop          context.Context
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// settled tells whether the churn is over.
func (p phase) settled() bool { return closed(p.settle) || p.stop.Err() != nil }

// hold keeps a connection for d after the warm-up. It returns true when
// the peer must keep it for good (the churn is over) and false when it
// should disconnect now. ended, when it closes first, also returns false:
// the connection is gone anyway.
func (p phase) hold(d time.Duration, ended <-chan struct{}) (keep bool) {
	select {
	case <-p.begin:
	case <-ended:
		return false
	case <-p.stop.Done():
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return closed(p.settle)
	case <-ended:
		return false
	case <-p.settle:
		return true
	case <-p.stop.Done():
		return true
	}
}

// away waits for d, a peer's time away, cut short when the churn ends
// (then every peer reconnects at once); it returns false once the run
// stops.
func (p phase) away(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.settle:
	case <-p.stop.Done():
	}
	return p.stop.Err() == nil
}

// backoff waits for d before another attempt; false once the run stops.
func (p phase) backoff(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.stop.Done():
	}
	return p.stop.Err() == nil
}
