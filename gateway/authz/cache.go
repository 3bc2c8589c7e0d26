package authz

import (
	"crypto/sha256"
	"sync"
	"time"
)

// A viewer presents the same token with every request (an LL-HLS viewer
// about five a second), and checking a signature costs 25–100 µs
// (BenchmarkVerify). Verified tokens are therefore remembered, by their
// hash, until they expire but at most cacheFor, so a key withdrawn from
// the JWKS stops working within that time.
const (
	cacheFor     = time.Minute
	cacheEntries = 4096
)

type cacheEntry struct {
	claims *Claims
	until  time.Time
}

type tokenCache struct {
	mu sync.Mutex
	m  map[[32]byte]cacheEntry
}

func (c *tokenCache) get(tok string, now time.Time) *Claims {
	k := sha256.Sum256([]byte(tok))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return nil
	}
	if now.After(e.until) {
		delete(c.m, k)
		return nil
	}
	return e.claims
}

func (c *tokenCache) put(tok string, claims *Claims, now time.Time) {
	until := now.Add(cacheFor)
	if exp := time.Unix(claims.Expires, 0); exp.Before(until) {
		until = exp
	}
	k := sha256.Sum256([]byte(tok))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= cacheEntries {
		// Dropping everything at once is crude but bounded, and refills
		// at the cost of one verification per viewer.
		c.m = map[[32]byte]cacheEntry{}
	}
	c.m[k] = cacheEntry{claims: claims, until: until}
}
