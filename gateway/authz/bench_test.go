package authz

import (
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway/authz/authztest"
)

// BenchmarkVerify: the cost of checking one token, paid on every request
// of a viewer (an LL-HLS viewer makes about five a second).
func BenchmarkVerify(b *testing.B) {
	secret := []byte("bench-secret-bench-secret-bench!")
	is := authztest.NewIssuer(b)
	claims := authztest.Claims(time.Hour, authztest.Read("live/*"), nil)
	for _, tc := range []struct {
		name  string
		v     *Verifier
		token string
	}{
		{"HS256", &Verifier{Secret: secret}, authztest.HS256(secret, claims)},
		{"RS256", &Verifier{Keys: &JWKS{URL: is.URL}}, is.RS256("rsa1", claims)},
		{"ES256", &Verifier{Keys: &JWKS{URL: is.URL}}, is.ES256("ec1", claims)},
	} {
		b.Run(tc.name+"/cached", func(b *testing.B) {
			if _, err := tc.v.Verify(tc.token); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := tc.v.Verify(tc.token); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name, func(b *testing.B) {
			if _, err := tc.v.Verify(tc.token); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tc.v.verify(tc.token, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
