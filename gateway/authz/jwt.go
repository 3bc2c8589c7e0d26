package authz

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Token errors. None quotes the token.
var (
	ErrMalformed = errors.New("jwt: malformed token")
	ErrAlgorithm = errors.New("jwt: algorithm not accepted")
	ErrSignature = errors.New("jwt: bad signature")
	ErrExpired   = errors.New("jwt: expired")
	ErrNotYet    = errors.New("jwt: not valid yet")
	ErrNoExpiry  = errors.New("jwt: no exp claim")
	ErrAudience  = errors.New("jwt: wrong audience")
	ErrIssuer    = errors.New("jwt: wrong issuer")
	ErrNoKey     = errors.New("jwt: no key for this token")
)

// MaxTokenSize bounds what is parsed: real tokens are a few hundred bytes.
const MaxTokenSize = 8 << 10

// DefaultClaim is the claim that holds a token's permissions.
const DefaultClaim = "skyrelay_permissions"

// KeySet finds the public key that signed a token (JWKS).
type KeySet interface {
	Key(kid, alg string) (crypto.PublicKey, error)
}

// Verifier checks JSON Web Tokens (RFC 7519) in compact form: HS256 with
// Secret, RS256 and ES256 with the keys of Keys. Every token must carry
// "exp". Its permissions are the list under Claim.
type Verifier struct {
	Secret   []byte // HS256; empty refuses HS256
	Keys     KeySet // RS256, ES256; nil refuses both
	Audience string // when set, "aud" must contain it
	Issuer   string // when set, "iss" must equal it
	Claim    string // DefaultClaim if empty
	Leeway   time.Duration
	Now      func() time.Time // time.Now if nil

	cache tokenCache
}

// token is a parsed, not yet verified token.
type token struct {
	alg, kid string
	signed   string // header.payload, what the signature covers
	payload  []byte
	sig      []byte
}

// parseToken splits and decodes a compact JWS. It never panics and bounds
// everything it decodes (FuzzParseToken).
func parseToken(s string) (*token, error) {
	if len(s) > MaxTokenSize {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenSize)
	}
	h, rest, ok := strings.Cut(s, ".")
	if !ok {
		return nil, ErrMalformed
	}
	p, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return nil, ErrMalformed
	}
	hb, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("%w: header", ErrMalformed)
	}
	var hdr struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Typ  string          `json:"typ"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, fmt.Errorf("%w: header", ErrMalformed)
	}
	if hdr.Crit != nil {
		// RFC 7515 §4.1.11: extensions we do not know must be refused.
		return nil, fmt.Errorf("%w: critical header extensions", ErrMalformed)
	}
	pb, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, fmt.Errorf("%w: payload", ErrMalformed)
	}
	sb, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return nil, fmt.Errorf("%w: signature", ErrMalformed)
	}
	return &token{alg: hdr.Alg, kid: hdr.Kid, signed: h + "." + p, payload: pb, sig: sb}, nil
}

// Verify checks a token's signature and dates and returns its claims.
// The claims returned are shared: do not modify them.
func (v *Verifier) Verify(s string) (*Claims, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if c := v.cache.get(s, now()); c != nil {
		return c, nil
	}
	c, err := v.verify(s, now())
	if err != nil {
		return nil, err
	}
	v.cache.put(s, c, now())
	return c, nil
}

func (v *Verifier) verify(s string, at time.Time) (*Claims, error) {
	t, err := parseToken(s)
	if err != nil {
		return nil, err
	}
	if err := v.verifySignature(t); err != nil {
		return nil, err
	}
	var rc rawClaims
	if err := json.Unmarshal(t.payload, &rc); err != nil {
		return nil, fmt.Errorf("%w: claims", ErrMalformed)
	}
	n := float64(at.Unix())
	leeway := v.Leeway.Seconds()
	switch {
	case rc.Exp == nil:
		return nil, ErrNoExpiry
	case n > *rc.Exp+leeway:
		return nil, ErrExpired
	case rc.Nbf != nil && n < *rc.Nbf-leeway:
		return nil, ErrNotYet
	case v.Audience != "" && !rc.Aud.has(v.Audience):
		return nil, ErrAudience
	case v.Issuer != "" && rc.Iss != v.Issuer:
		return nil, ErrIssuer
	}
	c := &Claims{Subject: rc.Sub, Expires: int64(*rc.Exp)}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(t.payload, &all); err != nil {
		return nil, fmt.Errorf("%w: claims", ErrMalformed)
	}
	name := v.Claim
	if name == "" {
		name = DefaultClaim
	}
	if raw, ok := all[name]; ok {
		if err := json.Unmarshal(raw, &c.Permissions); err != nil {
			return nil, fmt.Errorf("%w: %s is not a list of {action, path, device}", ErrMalformed, name)
		}
	}
	return c, nil
}

// verifySignature accepts only the algorithms configured, each with a key
// of its own type: an RS256 public key is never used as an HS256 secret.
func (v *Verifier) verifySignature(t *token) error {
	sum := sha256.Sum256([]byte(t.signed))
	switch t.alg {
	case "HS256":
		if len(v.Secret) == 0 {
			return ErrAlgorithm
		}
		m := hmac.New(sha256.New, v.Secret)
		m.Write([]byte(t.signed))
		if !hmac.Equal(m.Sum(nil), t.sig) {
			return ErrSignature
		}
		return nil
	case "RS256", "ES256":
		if v.Keys == nil {
			return ErrAlgorithm
		}
		key, err := v.Keys.Key(t.kid, t.alg)
		if err != nil {
			return err
		}
		switch k := key.(type) {
		case *rsa.PublicKey:
			if t.alg != "RS256" || rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], t.sig) != nil {
				return ErrSignature
			}
			return nil
		case *ecdsa.PublicKey:
			// JWS carries R and S as two 32-byte big-endian numbers
			// (RFC 7518 §3.4), not ASN.1.
			if t.alg != "ES256" || len(t.sig) != 64 {
				return ErrSignature
			}
			r, s := new(big.Int).SetBytes(t.sig[:32]), new(big.Int).SetBytes(t.sig[32:])
			if !ecdsa.Verify(k, sum[:], r, s) {
				return ErrSignature
			}
			return nil
		}
		return ErrNoKey
	}
	return ErrAlgorithm
}
