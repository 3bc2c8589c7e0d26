package cluster

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
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

	mu     sync.Mutex
	active map[string]relay // by path
}

type relay struct {
	from string // node id
	stop func()
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
		rl.active = map[string]relay{}
	}
	if _, running := rl.active[path]; !running {
		stop, err := rl.Puller.Pull(path, rl.source(e.RTSP, path))
		if err != nil {
			rl.mu.Unlock()
			return fmt.Errorf("relay from node %s: %w", e.NodeID, err)
		}
		rl.active[path] = relay{from: e.NodeID, stop: stop}
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
			r.stop()
			delete(rl.active, path)
		}
	}
}

// Close stops every relay.
func (rl *Relays) Close() {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	for path, r := range rl.active {
		r.stop()
		delete(rl.active, path)
	}
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
