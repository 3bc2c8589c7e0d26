package authz

import (
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway/authz/authztest"
)

// FuzzParseToken: no input makes the token parser or the verifier panic,
// and nothing unsigned by the secret is ever accepted.
func FuzzParseToken(f *testing.F) {
	secret := []byte("fuzz-secret")
	f.Add(authztest.HS256(secret, authztest.Claims(time.Hour, authztest.Read("**"), nil)))
	f.Add(authztest.Unsigned(authztest.Claims(time.Hour, nil, nil)))
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Add("a.b.c")
	f.Add("..")
	v := &Verifier{Secret: secret}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := parseToken(s)
		if err == nil && tok.signed+"." != s[:len(tok.signed)+1] {
			t.Fatalf("signed part %q is not a prefix of the token", tok.signed)
		}
		c, err := v.Verify(s)
		if err == nil && c == nil {
			t.Fatal("accepted without claims")
		}
		_ = looksLikeJWT(s)
		_ = MatchPath(s, s)
		_, _ = ParseJWKS([]byte(s))
	})
}

// FuzzParseJWKS: a key set from the network never makes the parser panic,
// and every key it returns is one the verifier can use.
func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := ParseJWKS(b)
		if err == nil && len(keys) == 0 {
			t.Fatal("no error and no key")
		}
		for kid, k := range keys {
			if !fits(k, "RS256") && !fits(k, "ES256") {
				t.Fatalf("key %q of type %T is of no use", kid, k)
			}
		}
	})
}
