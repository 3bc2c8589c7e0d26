// Package authztest mints JSON Web Tokens and serves key sets for tests of
// read authorization, with keys made at test time. Only _test.go files
// should import it.
package authztest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Claims builds a payload: the permissions under skyrelay_permissions and
// an exp ttl from now (ttl 0 leaves exp out). extra adds or overrides keys.
func Claims(ttl time.Duration, perms []map[string]string, extra map[string]any) map[string]any {
	c := map[string]any{"sub": "viewer", "iat": time.Now().Unix()}
	if ttl != 0 {
		c["exp"] = time.Now().Add(ttl).Unix()
	}
	if perms != nil {
		c["skyrelay_permissions"] = perms
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// Read is a permission to read the paths matching glob.
func Read(glob string) []map[string]string {
	return []map[string]string{{"action": "read", "path": glob}}
}

func enc(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func signingInput(alg, kid string, claims map[string]any) string {
	h := map[string]string{"alg": alg, "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	return enc(h) + "." + enc(claims)
}

// HS256 signs claims with secret.
func HS256(secret []byte, claims map[string]any) string {
	in := signingInput("HS256", "", claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Issuer holds an RSA and an EC key and serves them as a JWKS.
type Issuer struct {
	RSA *rsa.PrivateKey
	EC  *ecdsa.PrivateKey
	// URL is the key set's address on a loopback test server.
	URL string
	// Fetches counts the requests the key set got.
	Fetches func() int
}

// NewIssuer makes the keys (kid "rsa1" and "ec1") and serves the JWKS.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is := &Issuer{RSA: rk, EC: ek}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	pad := func(n *big.Int) []byte { return n.FillBytes(make([]byte, 32)) }
	set, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "rsa1", "use": "sig", "alg": "RS256", "n": b64(rk.N.Bytes()), "e": b64(big.NewInt(int64(rk.E)).Bytes())},
		{"kty": "EC", "kid": "ec1", "use": "sig", "alg": "ES256", "crv": "P-256", "x": b64(pad(ek.X)), "y": b64(pad(ek.Y))},
	}})
	fetches := make(chan struct{}, 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches <- struct{}{}
		w.Header().Set("Content-Type", "application/json")
		w.Write(set)
	}))
	t.Cleanup(srv.Close)
	is.URL = srv.URL + "/.well-known/jwks.json"
	is.Fetches = func() int { return len(fetches) }
	return is
}

// RS256 signs claims with the RSA key, naming kid (empty: no kid).
func (is *Issuer) RS256(kid string, claims map[string]any) string {
	in := signingInput("RS256", kid, claims)
	sum := sha256.Sum256([]byte(in))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, is.RSA, crypto.SHA256, sum[:])
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// ES256 signs claims with the EC key, naming kid.
func (is *Issuer) ES256(kid string, claims map[string]any) string {
	in := signingInput("ES256", kid, claims)
	sum := sha256.Sum256([]byte(in))
	r, s, _ := ecdsa.Sign(rand.Reader, is.EC, sum[:])
	sig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// Unsigned is a token with alg "none", which must never be accepted.
func Unsigned(claims map[string]any) string {
	return signingInput("none", "", claims) + "."
}

// WithAlg re-labels a token's header as alg, keeping its signature: the
// algorithm-confusion attack.
func WithAlg(alg string, claims map[string]any, sig []byte) string {
	return signingInput(alg, "", claims) + "." + base64.RawURLEncoding.EncodeToString(sig)
}
