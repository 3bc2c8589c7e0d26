package platform

import (
	"testing"
	"time"
)

// FuzzVerifyDigest: any Authorization header a device sends is refused
// with an error or, only when its response is right for the password and
// its nonce is one we issued, accepted.
func FuzzVerifyDigest(f *testing.F) {
	n, err := newNonceSigner()
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	nonce := n.make(now)
	f.Add(`Digest username="34020000001320000001", realm="3402000000", nonce="` + nonce + `", uri="sip:34020000002000000001@3402000000", response="00000000000000000000000000000000", algorithm=MD5`)
	f.Add(`Digest username="a", realm="b", nonce="` + nonce + `", uri="sip:x", response="0", qop=auth, nc=00000001, cnonce="c"`)
	f.Add(`Digest username="a", nonce="x", response="y", algorithm=SHA-256`)
	f.Add(`Basic YTpi`)
	f.Add(`Digest ,,,=`)
	f.Fuzz(func(t *testing.T, authz string) {
		cred, err := n.verifyDigest(authz, "REGISTER", "12345678", now)
		if err != nil {
			return
		}
		if cred == nil || cred.Nonce != nonce && !validNonce(n, cred.Nonce, now) {
			t.Fatalf("accepted %q with a nonce we never issued", authz)
		}
	})
}

func validNonce(n *nonceSigner, nonce string, now time.Time) bool {
	ok, _ := n.check(nonce, now)
	return ok
}
