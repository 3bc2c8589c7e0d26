package authz

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway/authz/authztest"
)

func TestVerify(t *testing.T) {
	secret := []byte("a-shared-secret-of-32-bytes-long")
	is := authztest.NewIssuer(t)
	keys := &JWKS{URL: is.URL}
	hs := &Verifier{Secret: secret}
	pub := &Verifier{Keys: keys}
	both := &Verifier{Secret: secret, Keys: keys, Audience: "skyrelay", Issuer: "https://idp.example"}
	ok := authztest.Claims(time.Hour, authztest.Read("live/*"), nil)
	pubDER, _ := x509.MarshalPKIXPublicKey(&is.RSA.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	for _, tc := range []struct {
		name  string
		v     *Verifier
		token string
		want  error // nil: accepted
	}{
		{"HS256", hs, authztest.HS256(secret, ok), nil},
		{"HS256 wrong secret", hs, authztest.HS256([]byte("another secret"), ok), ErrSignature},
		{"HS256 without a secret configured", pub, authztest.HS256(secret, ok), ErrAlgorithm},
		{"RS256 by kid", pub, is.RS256("rsa1", ok), nil},
		{"RS256 without kid, one RSA key", pub, is.RS256("", ok), nil},
		{"ES256 by kid", pub, is.ES256("ec1", ok), nil},
		{"RS256 naming the EC key", pub, is.RS256("ec1", ok), ErrNoKey},
		{"RS256 unknown kid", pub, is.RS256("gone", ok), ErrNoKey},
		{"RS256 without keys configured", hs, is.RS256("rsa1", ok), ErrAlgorithm},
		{"alg none", both, authztest.Unsigned(ok), ErrAlgorithm},
		{"alg confusion: HS256 keyed with the RSA public key", pub, authztest.HS256(pubPEM, ok), ErrAlgorithm},
		{"alg relabelled RS256 -> ES256", pub, relabel(is.RS256("", ok), "ES256", ok), ErrSignature},
		{"expired", hs, authztest.HS256(secret, authztest.Claims(-time.Hour, nil, nil)), ErrExpired},
		{"expired within the leeway", &Verifier{Secret: secret, Leeway: time.Minute},
			authztest.HS256(secret, authztest.Claims(-30*time.Second, nil, nil)), nil},
		{"no exp", hs, authztest.HS256(secret, authztest.Claims(0, nil, nil)), ErrNoExpiry},
		{"not yet", hs, authztest.HS256(secret, authztest.Claims(time.Hour, nil, map[string]any{"nbf": time.Now().Add(time.Minute).Unix()})), ErrNotYet},
		{"audience list", both, authztest.HS256(secret, authztest.Claims(time.Hour, nil, map[string]any{"aud": []string{"x", "skyrelay"}, "iss": "https://idp.example"})), nil},
		{"wrong audience", both, authztest.HS256(secret, authztest.Claims(time.Hour, nil, map[string]any{"aud": "other", "iss": "https://idp.example"})), ErrAudience},
		{"wrong issuer", both, authztest.HS256(secret, authztest.Claims(time.Hour, nil, map[string]any{"aud": "skyrelay", "iss": "evil"})), ErrIssuer},
		{"permissions not a list", hs, authztest.HS256(secret, authztest.Claims(time.Hour, nil, map[string]any{"skyrelay_permissions": "all"})), ErrMalformed},
		{"two parts", hs, "eyJhbGciOiJIUzI1NiJ9.e30", ErrMalformed},
		{"four parts", hs, authztest.HS256(secret, ok) + ".x", ErrMalformed},
		{"header not base64", hs, "!!.e30.AA", ErrMalformed},
		{"header not JSON", hs, "bm90IGpzb24.e30.AA", ErrMalformed},
		{"crit header", hs, "eyJhbGciOiJIUzI1NiIsImNyaXQiOlsiYiJdfQ.e30.AA", ErrMalformed},
		{"too long", hs, strings.Repeat("a", MaxTokenSize+1), ErrMalformed},
		{"empty", hs, "", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.v.Verify(tc.token)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c == nil {
					t.Fatal("no claims")
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if len(tc.token) > 20 && strings.Contains(err.Error(), tc.token[len(tc.token)-20:]) {
				t.Fatalf("the error quotes the token: %v", err)
			}
		})
	}
}

// relabel puts tok's signature under a header saying alg.
func relabel(tok, alg string, claims map[string]any) string {
	t, _ := parseToken(tok)
	return authztest.WithAlg(alg, claims, t.sig)
}

func TestClaimsAllow(t *testing.T) {
	c := &Claims{Permissions: []Permission{
		{Action: "read", Path: "live/*"},
		{Action: "read", Device: "1581FDEMO0000000AA01"},
		{Action: "publish", Path: "cam/**"},
		{Action: "api"},
	}}
	for _, tc := range []struct {
		action, path string
		want         bool
	}{
		{"read", "live/a", true},
		{"read", "live/a/b", false},
		{"read", "1581FDEMO0000000AA01/99-0-0/normal-0", true},
		{"read", "1581FDEMO0000000AA02/99-0-0/normal-0", false},
		{"read", "1581FDEMO0000000AA01x/a", false},
		{"publish", "live/a", false},
		{"publish", "cam/x/y/z", true},
		{"publish", "cam", true},
		{"read", "cam/x", false},
		{"api", "", true},
	} {
		if got := c.Allows(tc.action, tc.path); got != tc.want {
			t.Errorf("Allows(%s, %s) = %v, want %v", tc.action, tc.path, got, tc.want)
		}
	}
	all := &Claims{Permissions: []Permission{{Action: "*"}}}
	if !all.Allows("read", "any/path") || !all.Allows("publish", "x") {
		t.Error(`action "*" without path or device does not grant everything`)
	}
	if (&Claims{}).Allows("read", "live/a") {
		t.Error("a token without permissions grants a read")
	}
}

func TestMatchPath(t *testing.T) {
	for _, tc := range []struct {
		glob, path string
		want       bool
	}{
		{"**", "a", true},
		{"**", "a/b/c", true},
		{"live/*", "live/a", true},
		{"live/*", "live", false},
		{"live/*", "live/a/b", false},
		{"live/**", "live", true},
		{"*/99-0-0/*", "SN/99-0-0/normal-0", true},
		{"**/normal-0", "SN/99-0-0/normal-0", true},
		{"a/**/c", "a/c", true},
		{"a/**/c", "a/b/x/c", true},
		{"a/**/c", "a/b/x/d", false},
		{"live/[", "live/[", false}, // a bad pattern matches nothing
		{"cam?", "cam1", true},
	} {
		if got := MatchPath(tc.glob, tc.path); got != tc.want {
			t.Errorf("MatchPath(%q, %q) = %v, want %v", tc.glob, tc.path, got, tc.want)
		}
	}
	if MatchPath(strings.Repeat("**/", 40)+"x", strings.Repeat("a/", 40)+"b") {
		t.Error("an overlong glob matched")
	}
}

// A cached token still expires, and a token verified once is not accepted
// again after its exp because of the cache.
func TestVerifyCacheHonoursExpiry(t *testing.T) {
	secret := []byte("cache-secret")
	now := time.Now()
	v := &Verifier{Secret: secret, Now: func() time.Time { return now }}
	tok := authztest.HS256(secret, authztest.Claims(10*time.Second, authztest.Read("**"), nil))
	if _, err := v.Verify(tok); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("second, cached verification: %v", err)
	}
	now = now.Add(20 * time.Second)
	if _, err := v.Verify(tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("after exp: %v, want ErrExpired", err)
	}
	// A forged token that differs in one byte is not served from the cache.
	forged := tok[:len(tok)-2] + "AA"
	if _, err := v.Verify(forged); err == nil {
		t.Fatal("a forged token was accepted")
	}
}
