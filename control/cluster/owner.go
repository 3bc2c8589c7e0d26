package cluster

import "hash/fnv"

// owner picks, among nodes, the one that takes over path: the highest
// random weight (rendezvous hash) of the pair. Every node computes it from
// the same directory and picks the same node without talking; a node
// leaving moves only the paths it won.
func owner(path string, nodes []string) string {
	best, bestW := "", uint64(0)
	for _, n := range nodes {
		h := fnv.New64a()
		_, _ = h.Write([]byte(n))
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(path))
		w := mix(h.Sum64())
		if best == "" || w > bestW || (w == bestW && n < best) {
			best, bestW = n, w
		}
	}
	return best
}

// mix spreads FNV's output (splitmix64's finaliser): FNV alone weighs
// inputs sharing a prefix too alike.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
