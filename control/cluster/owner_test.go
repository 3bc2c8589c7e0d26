package cluster

import (
	"fmt"
	"testing"
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
