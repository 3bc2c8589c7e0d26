package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/control"
)

func TestOwner(t *testing.T) {
	nodes := []string{"gw-0", "gw-1", "gw-2"}
	for _, tc := range []struct {
		name  string
		nodes []string
		want  string // "" = any member
	}{
		{"no node", nil, ""},
		{"one node", []string{"only"}, "only"},
		{"three nodes", nodes, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := owner("SN/1-0-0/normal-0", tc.nodes)
			if tc.want != "" && got != tc.want {
				t.Fatalf("owner = %q, want %q", got, tc.want)
			}
			if len(tc.nodes) == 0 && got != "" {
				t.Fatalf("owner of nothing = %q", got)
			}
		})
	}

	// The order nodes are listed in does not matter: every survivor
	// computes the same owner from its own view.
	reversed := []string{"gw-2", "gw-1", "gw-0"}
	spread := map[string]int{}
	for i := range 3000 {
		path := fmt.Sprintf("DOCK%05d/165-0-7/normal-0", i)
		a := owner(path, nodes)
		if b := owner(path, reversed); a != b {
			t.Fatalf("%s: %s in one order, %s in another", path, a, b)
		}
		spread[a]++
		// A node leaving moves only the paths it owned.
		without := []string{}
		for _, n := range nodes {
			if n != "gw-1" {
				without = append(without, n)
			}
		}
		if c := owner(path, without); a != "gw-1" && c != a {
			t.Fatalf("%s moved from %s to %s when gw-1 left", path, a, c)
		}
	}
	for _, n := range nodes {
		if spread[n] < 800 { // 1000 each on average
			t.Fatalf("uneven spread %v", spread)
		}
	}
}

// TestExpire: an entry not received again for three refresh periods is
// dropped and its pushes are taken over, judged by the local clock however
// old the entry's own updated_at is.
func TestExpire(t *testing.T) {
	took := make(chan string, 2)
	n := &Node{ID: "a", Refresh: time.Second, Plane: takeOverPlane(took), TakeOverTimeout: time.Second, Log: slog.New(slog.DiscardHandler)}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	defer n.cancel()
	now := time.Now()
	// A path the survivor "a" owns once "dead" is gone, and one "fresh" owns.
	var mine, theirs string
	for i := 0; mine == "" || theirs == ""; i++ {
		p := fmt.Sprintf("SN%d/1-0-0/normal-0", i)
		if owner(p, []string{"a", "fresh"}) == "a" {
			mine = p
		} else {
			theirs = p
		}
	}
	n.members = map[string]Entry{
		"fresh": {NodeID: "fresh", UpdatedAt: now.Add(-time.Hour), seen: now},
		"dead":  {NodeID: "dead", seen: now.Add(-4 * time.Second), Pushes: []Push{{Path: mine, Protocol: "rtmp"}, {Path: theirs, Protocol: "rtmp"}}},
	}
	n.expire(now)
	if _, ok := n.members["fresh"]; !ok {
		t.Fatal("an entry received now was dropped for its old updated_at")
	}
	if _, ok := n.members["dead"]; ok {
		t.Fatal("an entry silent for four periods was kept")
	}
	n.wg.Wait()
	if p := <-took; p != mine {
		t.Fatalf("took over %q, want %q", p, mine)
	}
	if len(took) != 0 {
		t.Fatalf("also took over %q, which the other survivor owns", <-took)
	}
}

type takeOverPlane chan string

func (takeOverPlane) Sessions() []control.Session { return nil }
func (c takeOverPlane) TakeOver(_ context.Context, videoID, _ string) error {
	c <- videoID
	return nil
}
func (takeOverPlane) Replay(string, []byte) {}
