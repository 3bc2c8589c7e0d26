package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// TopicPrefix is where the node directory lives: one retained entry per
// node at TopicPrefix+node_id.
const TopicPrefix = "skyrelay/cluster/nodes/"

// Entry is one node's directory entry, published retained by the node.
type Entry struct {
	NodeID string `json:"node_id"`
	// Boot changes at every start, so a restarted node is a new member.
	Boot string `json:"boot_id"`
	// HTTP is the base URL (cluster.advertise) viewers are redirected to
	// and API starts forwarded to.
	HTTP string `json:"http"`
	// RTSP is the base rtsp:// URL other nodes relay from.
	RTSP string `json:"rtsp,omitempty"`
	// Pushes are the device pushes this node holds.
	Pushes    []Push    `json:"pushes"`
	UpdatedAt time.Time `json:"updated_at"`
	// seen is when this node last received the entry: expiry is judged
	// by the local clock, since the nodes' clocks may disagree.
	seen time.Time
}

// Push is one device push a node holds: its path (the DJI video_id) and
// the protocol it was started with, so a takeover restarts it alike.
type Push struct {
	Path     string `json:"path"`
	Protocol string `json:"protocol"`
}

// maxEntry bounds an entry: 64 KiB is thousands of pushes.
const maxEntry = 64 << 10

var errEntry = errors.New("malformed directory entry")

// ParseEntry reads the entry published on topic. An empty payload is a
// node leaving (its will, or its own goodbye): gone is true. Anything
// malformed is an error, and the caller skips it.
func ParseEntry(topic string, payload []byte) (e Entry, gone bool, err error) {
	id, ok := strings.CutPrefix(topic, TopicPrefix)
	if !ok || id == "" || strings.Contains(id, "/") {
		return e, false, fmt.Errorf("%w: topic %q", errEntry, topic)
	}
	if len(payload) == 0 {
		return Entry{NodeID: id}, true, nil
	}
	if len(payload) > maxEntry {
		return e, false, fmt.Errorf("%w: %d bytes", errEntry, len(payload))
	}
	if err := json.Unmarshal(payload, &e); err != nil {
		return Entry{}, false, fmt.Errorf("%w: %v", errEntry, err)
	}
	if e.NodeID != id {
		return Entry{}, false, fmt.Errorf("%w: node_id %q on the topic of %q", errEntry, e.NodeID, id)
	}
	if u, err := url.Parse(e.HTTP); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return Entry{}, false, fmt.Errorf("%w: http %q", errEntry, e.HTTP)
	}
	if e.RTSP != "" {
		if u, err := url.Parse(e.RTSP); err != nil || u.Host == "" || (u.Scheme != "rtsp" && u.Scheme != "rtsps") {
			return Entry{}, false, fmt.Errorf("%w: rtsp %q", errEntry, e.RTSP)
		}
	}
	for _, p := range e.Pushes {
		if p.Path == "" {
			return Entry{}, false, fmt.Errorf("%w: a push without a path", errEntry)
		}
	}
	return e, false, nil
}

// holds reports whether the entry lists path.
func (e Entry) holds(path string) (Push, bool) {
	for _, p := range e.Pushes {
		if p.Path == path {
			return p, true
		}
	}
	return Push{}, false
}
