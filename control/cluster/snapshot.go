package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// A node that joins after a device announced itself would miss what the
// device only says on change (live_capacity, the rest of state). Every node
// keeps the last update_topo of each gateway and, for each state key, the
// last state message that carried it; a joining node fetches that from a
// member and feeds it to its own plane, which records it as if it had just
// arrived (and answers nothing: replies go through the shared subscription).

// snapshotFilters are the topics a snapshot keeps.
var snapshotFilters = []string{"sys/product/+/status", "thing/product/+/state"}

// Bounds of the cache: a device's state keys, and devices.
const (
	maxSnapshotDevices = 20000
	maxSnapshotMessage = 64 << 10
)

// Message is one device message of a snapshot.
type Message struct {
	Topic   string `json:"topic"`
	Payload []byte `json:"payload"`
}

// snapshot is the cache of the last announcing messages per device.
type snapshot struct {
	mu     sync.Mutex
	status map[string][]byte            // topic → last update_topo
	state  map[string]map[string][]byte // topic → key → last message with it
}

func newSnapshot() *snapshot {
	return &snapshot{status: map[string][]byte{}, state: map[string]map[string][]byte{}}
}

// record keeps one message; malformed ones are left to the plane to count.
func (s *snapshot) record(topic string, payload []byte) {
	if len(payload) > maxSnapshotMessage {
		return
	}
	_, kind := cloudapi.ParseTopic(topic)
	e, err := cloudapi.Parse(payload)
	if err != nil {
		return
	}
	p := append([]byte(nil), payload...)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch kind {
	case cloudapi.KindStatus:
		if _, ok := s.status[topic]; ok || len(s.status) < maxSnapshotDevices {
			s.status[topic] = p
		}
	case cloudapi.KindState:
		d, err := e.Object()
		if err != nil {
			return
		}
		keys := s.state[topic]
		if keys == nil {
			if len(s.state) >= maxSnapshotDevices {
				return
			}
			keys = map[string][]byte{}
			s.state[topic] = keys
		}
		for k := range d {
			keys[k] = p
		}
	}
}

// messages lists the snapshot: every update_topo first, then each distinct
// state message once.
func (s *snapshot) messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.status)+len(s.state))
	for t, p := range s.status {
		out = append(out, Message{t, p})
	}
	for t, keys := range s.state {
		seen := map[*byte]bool{}
		for _, p := range keys {
			if len(p) == 0 || seen[&p[0]] {
				continue
			}
			seen[&p[0]] = true
			out = append(out, Message{t, p})
		}
	}
	return out
}

// fetchSnapshot gets a member's snapshot over its API (bearer token when
// set) and hands every message to replay.
func fetchSnapshot(ctx context.Context, base, token string, replay func(topic string, payload []byte)) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/api/v1/cluster/snapshot", nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("snapshot from %s: %s", base, resp.Status)
	}
	var body struct {
		Items []Message `json:"items"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(&body); err != nil {
		return 0, fmt.Errorf("snapshot from %s: %w", base, err)
	}
	for _, m := range body.Items {
		replay(m.Topic, m.Payload)
	}
	return len(body.Items), nil
}
