package cascade

import (
	"fmt"
	"hash/fnv"
	"sync"
)

// Type codes (digits 11-13 of a GB/T 28181 id, 2016 Annex D) the catalog
// uses.
const (
	typeNVR    = "118" // a DJI device: it holds cameras, as an NVR does
	typeCamera = "131" // a DJI camera
	typeIPC    = "132" // a pushed stream
)

// ids hands out 20-digit ids for channel keys. An id is the first ten
// digits of the gateway's id (centre and industry code), the type code,
// network digit 0 and six digits hashed from the key, so a path or device
// keeps its id across restarts without any stored state. Two keys whose
// hashes meet get the later one re-hashed with a counter; which one is
// "later" is the order they were first seen in, the one case where an id
// can differ after a restart.
type ids struct {
	prefix string // 10 digits
	mu     sync.Mutex
	byKey  map[string]string
	taken  map[string]string // id -> key
}

func newIDs(gatewayID string) *ids {
	return &ids{prefix: gatewayID[:10], byKey: map[string]string{}, taken: map[string]string{}}
}

// maxIDs bounds the table: paths come and go, the table keeps them all.
const maxIDs = 100000

// id returns the id of key (a stream path, "dji:SN") with the type code.
func (t *ids) id(typ, key string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := typ + "|" + key
	if id, ok := t.byKey[k]; ok {
		return id
	}
	if len(t.byKey) >= maxIDs {
		t.byKey, t.taken = map[string]string{}, map[string]string{}
	}
	for n := 0; ; n++ {
		h := fnv.New64a()
		h.Write([]byte(key))
		if n > 0 {
			fmt.Fprintf(h, "#%d", n)
		}
		id := fmt.Sprintf("%s%s0%06d", t.prefix, typ, h.Sum64()%1000000)
		if other, used := t.taken[id]; used && other != k {
			continue
		}
		t.byKey[k], t.taken[id] = id, k
		return id
	}
}
