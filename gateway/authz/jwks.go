package authz

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// JWKS defaults.
const (
	// DefaultJWKSMaxAge: keys are fetched again after this long, so a key
	// the issuer withdrew stops being accepted.
	DefaultJWKSMaxAge = 10 * time.Minute
	// jwksMinInterval: a token naming an unknown kid makes a fetch (the
	// issuer rotated its keys), at most this often, so that made-up kids
	// cannot flood the issuer.
	jwksMinInterval = 30 * time.Second
	maxJWKSSize     = 1 << 20
)

// JWKS is the key set published at URL (auth.jwt.jwks_url), fetched on first
// use, again after MaxAge, and again when a token names a key it does not
// hold.
type JWKS struct {
	URL    string
	Client *http.Client  // a client with a 5 s timeout if nil
	MaxAge time.Duration // DefaultJWKSMaxAge if 0

	mu      sync.Mutex
	keys    map[string]crypto.PublicKey // by kid
	fetched time.Time
	tried   time.Time
}

// Key returns the key kid for alg, fetching the set when needed.
func (j *JWKS) Key(kid, alg string) (crypto.PublicKey, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	maxAge := j.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultJWKSMaxAge
	}
	now := time.Now()
	since := now.Sub(j.tried)
	stale := j.keys == nil || now.Sub(j.fetched) > maxAge
	missing := j.find(kid, alg) == nil
	if missing && since > jwksMinInterval || stale && since > time.Second {
		j.tried = now
		keys, err := j.fetch()
		if err != nil {
			if j.keys == nil {
				return nil, err
			}
			// Keep the keys we have: the issuer being down must not lock
			// every viewer out.
		} else {
			j.keys, j.fetched = keys, now
		}
	}
	if k := j.find(kid, alg); k != nil {
		return k, nil
	}
	return nil, ErrNoKey
}

// find picks the key named kid, or without a kid the only key of alg's
// type.
func (j *JWKS) find(kid, alg string) crypto.PublicKey {
	if kid != "" {
		if k := j.keys[kid]; k != nil && fits(k, alg) {
			return k
		}
		return nil
	}
	var found crypto.PublicKey
	for _, k := range j.keys {
		if fits(k, alg) {
			if found != nil {
				return nil // ambiguous: the token must name its key
			}
			found = k
		}
	}
	return found
}

func fits(k crypto.PublicKey, alg string) bool {
	switch k.(type) {
	case *rsa.PublicKey:
		return alg == "RS256"
	case *ecdsa.PublicKey:
		return alg == "ES256"
	}
	return false
}

func (j *JWKS) fetch() (map[string]crypto.PublicKey, error) {
	c := j.Client
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: %s answered %s", j.URL, res.Status)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxJWKSSize))
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return ParseJWKS(b)
}

// ParseJWKS reads a JWK Set (RFC 7517): RSA keys of at least 2048 bits and
// EC keys on P-256. Keys of other types, curves or uses are skipped.
func ParseJWKS(b []byte) (map[string]crypto.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Crv string `json:"crv"`
			N   string `json:"n"`
			E   string `json:"e"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("jwks: not a key set: %w", err)
	}
	keys := map[string]crypto.PublicKey{}
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		kid := k.Kid
		if kid == "" {
			kid = fmt.Sprintf("#%d", i)
		}
		switch k.Kty {
		case "RSA":
			n, err1 := b64int(k.N)
			e, err2 := b64int(k.E)
			if err1 != nil || err2 != nil || n.BitLen() < 2048 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
				continue
			}
			keys[kid] = &rsa.PublicKey{N: n, E: int(e.Int64())}
		case "EC":
			if k.Crv != "P-256" {
				continue
			}
			x, err1 := base64.RawURLEncoding.DecodeString(k.X)
			y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
			if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
				continue
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				continue // not on the curve
			}
			keys[kid] = pub
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks: no usable key (RSA ≥ 2048 bits or EC P-256)")
	}
	return keys, nil
}

func b64int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("bad number")
	}
	return new(big.Int).SetBytes(b), nil
}
