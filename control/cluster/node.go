package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/control/broker"
)

// Bus is what a node needs of the broker connection (broker.External).
type Bus interface {
	Subscribe(filters []string, h broker.Handler) error
	PublishRetained(ctx context.Context, topic string, payload []byte, expiry time.Duration) error
	Connected() bool
	// Connects changes with every new connection.
	Connects() uint64
}

// Plane is what a node needs of the control plane (control.Plane).
type Plane interface {
	Sessions() []control.Session
	TakeOver(ctx context.Context, videoID, protocol string) error
	// Replay records a device message as if it had just arrived.
	Replay(topic string, payload []byte)
}

// Node is this gateway's membership in the cluster. Fill the fields, then
// Initialize; Close leaves the cluster (clearing the entry first, so the
// others take over at once).
type Node struct {
	ID   string
	HTTP string // cluster.advertise
	RTSP string // rtsp://host:port of this node, for relays
	Bus  Bus
	// Plane is asked for the pushes held here and to take over pushes.
	Plane Plane
	// Refresh is how often the entry is published even when nothing
	// changed (default 10 s); an entry expires after three of them.
	Refresh time.Duration
	// TakeOverTimeout bounds one takeover (default 20 s).
	TakeOverTimeout time.Duration
	// APIToken is auth.api_token, sent to fetch a member's snapshot.
	APIToken string
	Log      *slog.Logger

	boot     string
	in       chan dirMsg
	done     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.RWMutex
	members  map[string]Entry // the others, by node id
	onChange []func()
	snap     *snapshot
	synced   bool // a member's snapshot was replayed (run's goroutine)
}

type dirMsg struct {
	topic   string
	payload []byte
}

// Initialize subscribes to the directory and starts publishing this
// node's entry.
func (n *Node) Initialize() error {
	if n.Log == nil {
		n.Log = slog.Default()
	}
	if n.Refresh <= 0 {
		n.Refresh = 10 * time.Second
	}
	if n.TakeOverTimeout <= 0 {
		n.TakeOverTimeout = 20 * time.Second
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	n.boot = hex.EncodeToString(b[:])
	n.in = make(chan dirMsg, 1024)
	n.done = make(chan struct{})
	n.members = map[string]Entry{}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.snap = newSnapshot()
	if err := n.Bus.Subscribe(snapshotFilters, n.snap.record); err != nil {
		return err
	}
	if err := n.Bus.Subscribe([]string{TopicPrefix + "+"}, n.receive); err != nil {
		return err
	}
	n.wg.Add(1)
	go n.run()
	n.Log.Info("cluster node up", "node_id", n.ID, "http", n.HTTP)
	return nil
}

// Close clears this node's entry and stops.
func (n *Node) Close() {
	if n.done == nil {
		return
	}
	close(n.done)
	n.cancel()
	n.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = n.Bus.PublishRetained(ctx, TopicPrefix+n.ID, nil, 0)
}

// receive runs on the broker client's worker: hand over, never block.
func (n *Node) receive(topic string, payload []byte) {
	select {
	case n.in <- dirMsg{topic, payload}:
	case <-n.done:
	}
}

// Members are the other live nodes' entries.
func (n *Node) Members() []Entry {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]Entry, 0, len(n.members))
	for _, e := range n.members {
		out = append(out, e)
	}
	return out
}

// Holder is the entry of the other node holding path, if one does.
func (n *Node) Holder(path string) (Entry, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, e := range n.members {
		if _, ok := e.holds(path); ok {
			return e, true
		}
	}
	return Entry{}, false
}

func (n *Node) run() {
	defer n.wg.Done()
	// A push that starts is in the directory within a tick: the shorter,
	// the smaller the window in which another node could start it too.
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last []Push
	var lastAt time.Time
	var seen uint64 // Bus.Connects when the entry was last published
	for {
		select {
		case m := <-n.in:
			n.apply(m)
		case now := <-tick.C:
			conn := n.Bus.Connects()
			pushes := n.held()
			if n.Bus.Connected() && (conn != seen || !slices.Equal(pushes, last) || now.Sub(lastAt) >= n.Refresh) {
				if n.publish(pushes) == nil {
					last, lastAt, seen = pushes, now, conn
				}
			}
			n.expire(now)
		case <-n.done:
			return
		}
	}
}

// held lists the pushes of the sessions this node runs.
func (n *Node) held() []Push {
	var out []Push
	for _, s := range n.Plane.Sessions() {
		if s.EndedAt == nil {
			out = append(out, Push{Path: s.Path, Protocol: s.Protocol})
		}
	}
	slices.SortFunc(out, func(a, b Push) int {
		if a.Path < b.Path {
			return -1
		}
		if a.Path > b.Path {
			return 1
		}
		return 0
	})
	return out
}

func (n *Node) publish(pushes []Push) error {
	if pushes == nil {
		pushes = []Push{}
	}
	b, _ := json.Marshal(Entry{NodeID: n.ID, Boot: n.boot, HTTP: n.HTTP, RTSP: n.RTSP, Pushes: pushes, UpdatedAt: time.Now().UTC()})
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	err := n.Bus.PublishRetained(ctx, TopicPrefix+n.ID, b, 3*n.Refresh)
	if err != nil {
		n.Log.Debug("directory entry not published", "error", err)
	}
	return err
}

// apply records one directory message.
func (n *Node) apply(m dirMsg) {
	e, gone, err := ParseEntry(m.topic, m.payload)
	if err != nil {
		n.Log.Debug("directory message skipped", "error", err)
		return
	}
	if e.NodeID == n.ID {
		if gone || e.Boot != n.boot {
			// A will of an earlier run of this node (or of a twin with the
			// same node_id) cleared or replaced our entry: put it back.
			_ = n.publish(n.held())
			if !gone {
				n.Log.Warn("another process publishes this node_id; node ids must be unique", "node_id", n.ID)
			}
		}
		return
	}
	e.seen = time.Now()
	n.mu.Lock()
	old, had := n.members[e.NodeID]
	if gone {
		delete(n.members, e.NodeID)
	} else {
		n.members[e.NodeID] = e
	}
	n.mu.Unlock()
	switch {
	case gone && had:
		n.Log.Warn("cluster node gone", "node_id", e.NodeID, "pushes", len(old.Pushes))
		n.failover(old)
	case !gone && had && old.Boot != e.Boot:
		// Restarted before its will was seen: what it held is gone.
		n.Log.Warn("cluster node restarted", "node_id", e.NodeID)
		n.failover(old)
	case !gone && !had:
		n.Log.Info("cluster node joined", "node_id", e.NodeID, "http", e.HTTP)
		if !n.synced {
			n.synced = true
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				k, err := fetchSnapshot(n.ctx, e.HTTP, n.APIToken, n.Plane.Replay)
				if err != nil {
					n.Log.Warn("no device snapshot from a member; devices appear as they report", "node_id", e.NodeID, "error", err)
					return
				}
				n.Log.Info("device snapshot replayed", "from", e.NodeID, "messages", k)
			}()
		}
	}
	n.changed()
}

// expire drops entries not refreshed for three periods: a node whose will
// the broker could not publish (docs/cluster.md).
func (n *Node) expire(now time.Time) {
	var dead []Entry
	n.mu.Lock()
	for id, e := range n.members {
		if now.Sub(e.seen) > 3*n.Refresh {
			dead = append(dead, e)
			delete(n.members, id)
		}
	}
	n.mu.Unlock()
	for _, e := range dead {
		n.Log.Warn("cluster node expired", "node_id", e.NodeID, "last_seen", e.seen)
		n.failover(e)
	}
	if len(dead) > 0 {
		n.changed()
	}
}

// failover takes over the pushes of a dead node that the rendezvous hash
// gives to this node. Every survivor computes the same owner from the same
// directory, so each push is restarted by one node.
func (n *Node) failover(dead Entry) {
	nodes := []string{n.ID}
	for _, e := range n.Members() {
		nodes = append(nodes, e.NodeID)
	}
	for _, p := range dead.Pushes {
		if owner(p.Path, nodes) != n.ID {
			continue
		}
		n.Log.Info("taking over a push of a dead node", "path", p.Path, "from", dead.NodeID)
		n.wg.Add(1)
		go func(p Push) {
			defer n.wg.Done()
			n.takeOver(p)
		}(p)
	}
}

// takeOver retries while the device may still be catching up (it may be
// offline a moment, or still answer the old push).
func (n *Node) takeOver(p Push) {
	ctx, cancel := context.WithTimeout(n.ctx, n.TakeOverTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := n.Plane.TakeOver(ctx, p.Path, p.Protocol)
		if err == nil {
			n.Log.Info("push taken over", "path", p.Path, "attempt", attempt)
			return
		}
		n.Log.Warn("takeover failed", "path", p.Path, "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// OnChange registers f to run on the node's goroutine after every
// directory change. Call it before Initialize.
func (n *Node) OnChange(f func()) { n.onChange = append(n.onChange, f) }

func (n *Node) changed() {
	for _, f := range n.onChange {
		f()
	}
}
