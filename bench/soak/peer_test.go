package soak

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// session is one connection of a peer: a publish or a play.
type session interface {
	// ended closes when the connection is gone without our asking
	// (the gateway closed it, or it broke).
	ended() <-chan struct{}
	close()
}

// peer is a publisher or viewer that churns: connect, hold, disconnect,
// wait, again, as phase says.
type peer struct {
	name    string
	connect func(r *rand.Rand) (session, error)
	holdFor span // how long a connection is kept during the churn
	gap     span // how long the peer stays away

	connects atomic.Int64 // connections made
	failures atomic.Int64 // connection attempts refused or timed out
	dropped  atomic.Int64 // connections that ended on the gateway's side during the churn
	broken   atomic.Int64 // connections that ended on the gateway's side after it
	up       atomic.Bool  // connected now
}

// run churns until ph.stop; it returns with nothing left open.
func (p *peer) run(ph phase, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x50a4))
	retry := 500 * time.Millisecond
	for ph.stop.Err() == nil {
		s, err := p.connect(r)
		if err != nil {
			p.failures.Add(1)
			if !ph.backoff(retry) {
				return
			}
			retry = min(2*retry, 5*time.Second)
			continue
		}
		retry = 500 * time.Millisecond
		p.connects.Add(1)
		p.up.Store(true)
		if ph.hold(p.holdFor.pick(r), s.ended()) {
			select {
			case <-s.ended():
				if ph.stop.Err() == nil {
					p.broken.Add(1)
				}
			case <-ph.stop.Done():
			}
		} else if closed(s.ended()) {
			p.dropped.Add(1)
		}
		p.up.Store(false)
		s.close()
		if ph.settled() {
			continue // reconnect at once: the end state wants everyone in
		}
		if !ph.away(p.gap.pick(r)) {
			return
		}
	}
}

func (p *peer) String() string {
	return fmt.Sprintf("%s: %d connects, %d refused, %d closed by the gateway during churn, %d after it",
		p.name, p.connects.Load(), p.failures.Load(), p.dropped.Load(), p.broken.Load())
}

// tally sums the counters of a group of peers.
type tally struct{ peers, up, connects, failures, dropped, broken int64 }

func sum(ps []*peer) tally {
	var t tally
	for _, p := range ps {
		t.peers++
		if p.up.Load() {
			t.up++
		}
		t.connects += p.connects.Load()
		t.failures += p.failures.Load()
		t.dropped += p.dropped.Load()
		t.broken += p.broken.Load()
	}
	return t
}

func (t tally) String() string {
	return fmt.Sprintf("%d/%d up, %d connects, %d refused, %d closed by the gateway (%d after the churn)",
		t.up, t.peers, t.connects, t.failures, t.dropped, t.broken)
}
