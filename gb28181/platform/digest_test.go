package platform

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// authorization computes a digest answer by the RFC 2617 §3.2.2 formulas,
// written out here rather than with the library the platform verifies
// with.
func authorization(user, realm, pw, nonce, uri, qop, cnonce, nc string) string {
	ha1 := md5hex(user + ":" + realm + ":" + pw)
	ha2 := md5hex("REGISTER:" + uri)
	if qop == "" {
		resp := md5hex(ha1 + ":" + nonce + ":" + ha2)
		return fmt.Sprintf(`Digest username="%s",realm="%s",nonce="%s",uri="%s",response="%s",algorithm=MD5`, user, realm, nonce, uri, resp)
	}
	resp := md5hex(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2)
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=MD5, qop=%s, nc=%s, cnonce="%s"`,
		user, realm, nonce, uri, resp, qop, nc, cnonce)
}

func TestVerifyDigest(t *testing.T) {
	n, err := newNonceSigner()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	nonce := n.make(now)
	const user, realm, pw, uri = "34020000001320000001", "3402000000", "12345678", "sip:34020000002000000001@3402000000"
	for _, tc := range []struct {
		name  string
		authz string
		at    time.Time
		want  error
	}{
		{"rfc2069 no qop", authorization(user, realm, pw, nonce, uri, "", "", ""), now, nil},
		{"qop auth", authorization(user, realm, pw, nonce, uri, "auth", "0a4f113b", "00000001"), now, nil},
		{"upper-case response", strings.Replace(authorization(user, realm, pw, nonce, uri, "", "", ""), `response="`, `response="`, 1), now, nil},
		{"wrong password", authorization(user, realm, "nope", nonce, uri, "auth", "0a4f113b", "00000001"), now, errWrongPassword},
		{"stale nonce", authorization(user, realm, pw, nonce, uri, "", "", ""), now.Add(nonceLifetime + time.Second), errStaleNonce},
		{"foreign nonce", authorization(user, realm, pw, "0123456789abcdef0123456789abcdef0123456789abcdef", uri, "", "", ""), now, errForeignNonce},
		{"no header", "", now, errNoCredentials},
		{"garbage", "Basic Zm9vOmJhcg==", now, errBadCredentials},
		{"auth-int", strings.Replace(authorization(user, realm, pw, nonce, uri, "auth", "c", "00000001"), "qop=auth", "qop=auth-int", 1), now, errBadCredentials},
		{"sha-256", strings.Replace(authorization(user, realm, pw, nonce, uri, "", "", ""), "algorithm=MD5", "algorithm=SHA-256", 1), now, errBadCredentials},
	} {
		if _, err := n.verifyDigest(tc.authz, "REGISTER", pw, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A nonce of another platform instance (another key) is not ours.
	other, _ := newNonceSigner()
	if _, err := other.verifyDigest(authorization(user, realm, pw, nonce, uri, "", "", ""), "REGISTER", pw, now); !errors.Is(err, errForeignNonce) {
		t.Fatal(err)
	}
}

// TestChallengeFormat pins the WWW-Authenticate value: no space after the
// commas (devices choke on it), qop only when asked.
func TestChallengeFormat(t *testing.T) {
	if got := challenge("3402000000", "abc", false, false); got != `Digest realm="3402000000",nonce="abc",algorithm=MD5` {
		t.Fatal(got)
	}
	if got := challenge("3402000000", "abc", true, true); got != `Digest realm="3402000000",nonce="abc",algorithm=MD5,qop="auth",stale=true` {
		t.Fatal(got)
	}
}
