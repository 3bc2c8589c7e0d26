package cluster

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Puller pulls an RTSP URL into a local path (ingest/rtsppull).
type Puller interface {
	Pull(path, rawURL string) (stop func(), err error)
}

// Relays serve, on this node, paths another node holds to clients that
// follow no redirect (RTSP and RTMP readers, GB28181): the local hub pulls
// the path from the holder over RTSP. A relay stops when the holder no
// longer lists the path or leaves; the local stream then ends like any
// other whose publisher went.
type Relays struct {
	Node   *Node
	Puller Puller
	// Start is the single-gateway on-demand start (control.Plane's
	// StartOnDemand); used when no other node holds the path.
	Start func(ctx context.Context, path string) error
	// WaitReady waits until the local path is playable.
	WaitReady func(ctx context.Context, path string) error
	// ReadUser and ReadPassword (auth.read_user, auth.read_password, the
	// same on every node) are presented to the holder when set.
	ReadUser, ReadPassword string
	// Idle is how long a relay runs without readers (control.idle_stop_after;
	// 0: as long as the holder has the path): a relay is a reader on the
	// holder and would keep the device's push alive for nobody.
	Idle time.Duration

	mu     sync.Mutex
	active map[string]*relay // by path
}

type relay struct {
	from string // node id
	stop func()
	idle *time.Timer // runs while the local path has no reader
}

// OnDemand is the hub's on-demand start in a cluster: relay from the
// holder, or start here.
func (rl *Relays) OnDemand(ctx context.Context, path string) error {
	e, ok := rl.Node.Holder(path)
	if !ok || e.RTSP == "" {
		return rl.Start(ctx, path)
	}
	rl.mu.Lock()
	if rl.active == nil {
		rl.active = map[string]*relay{}
	}
	if _, running := rl.active[path]; !running {
		stop, err := rl.Puller.Pull(path, rl.source(e.RTSP, path))
		if err != nil {
			rl.mu.Unlock()
			return fmt.Errorf("relay from node %s: %w", e.NodeID, err)
		}
		rl.active[path] = &relay{from: e.NodeID, stop: stop}
	}
	rl.mu.Unlock()
	return rl.WaitReady(ctx, path)
}

// Prune stops relays whose holder no longer holds the path. Register it
// with Node.OnChange.
func (rl *Relays) Prune() {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	for path, r := range rl.active {
		if e, ok := rl.Node.Holder(path); !ok || e.NodeID != r.from {
			rl.stopLocked(path, r)
		}
	}
}

// Close stops every relay.
func (rl *Relays) Close() {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	for path, r := range rl.active {
		rl.stopLocked(path, r)
	}
}

func (rl *Relays) stopLocked(path string, r *relay) {
	if r.idle != nil {
		r.idle.Stop()
	}
	r.stop()
	delete(rl.active, path)
}

// StreamEvent follows the local hub (gateway.Event kind and reader
// count): a relayed path left without readers is stopped after Idle.
func (rl *Relays) StreamEvent(path, kind string, readers int) {
	if kind != "readers" {
		return
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	r := rl.active[path]
	if r == nil {
		return
	}
	if readers > 0 {
		if r.idle != nil {
			r.idle.Stop()
			r.idle = nil
		}
		return
	}
	if r.idle != nil || rl.Idle <= 0 {
		return
	}
	r.idle = time.AfterFunc(rl.Idle, func() {
		rl.mu.Lock()
		defer rl.mu.Unlock()
		if rl.active[path] == r && r.idle != nil {
			rl.stopLocked(path, r)
		}
	})
}

// source is the holder's RTSP URL of path, with the read credential.
func (rl *Relays) source(base, path string) string {
	u, err := url.Parse(strings.TrimSuffix(base, "/") + "/" + path)
	if err != nil {
		return base + "/" + path
	}
	if rl.ReadPassword != "" {
		u.User = url.UserPassword(rl.ReadUser, rl.ReadPassword)
	}
	return u.String()
}
