package platform

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/icholy/digest"
)

// nonceLifetime is how long a REGISTER challenge stays valid. A device that
// answers later gets a fresh challenge with stale=true (RFC 2617 §3.2.1).
const nonceLifetime = 5 * time.Minute

// nonceSigner makes stateless nonces: the issue time and an HMAC of it, so
// that any of thousands of devices can answer a challenge over any transport
// without the platform keeping per-device state.
type nonceSigner struct{ key [32]byte }

func newNonceSigner() (*nonceSigner, error) {
	n := &nonceSigner{}
	if _, err := rand.Read(n.key[:]); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *nonceSigner) mac(ts string) string {
	m := hmac.New(sha256.New, n.key[:])
	m.Write([]byte(ts))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// make returns a nonce issued at t: 16 hex digits of time, 32 of MAC.
func (n *nonceSigner) make(t time.Time) string {
	ts := strconv.FormatInt(t.UnixNano(), 16)
	ts = strings.Repeat("0", 16-len(ts)) + ts
	return ts + n.mac(ts)
}

// check tells whether nonce is ours (valid) and still fresh at now.
func (n *nonceSigner) check(nonce string, now time.Time) (valid, fresh bool) {
	if len(nonce) != 48 {
		return false, false
	}
	ts := nonce[:16]
	if !hmac.Equal([]byte(nonce[16:]), []byte(n.mac(ts))) {
		return false, false
	}
	ns, err := strconv.ParseInt(ts, 16, 64)
	if err != nil {
		return false, false
	}
	age := now.Sub(time.Unix(0, ns))
	return true, age >= -time.Minute && age <= nonceLifetime
}

// challenge is the WWW-Authenticate value. Devices are known to choke on a
// space after the commas, so there is none.
func challenge(realm, nonce string, qop, stale bool) string {
	var b strings.Builder
	b.WriteString(`Digest realm="`)
	b.WriteString(realm)
	b.WriteString(`",nonce="`)
	b.WriteString(nonce)
	b.WriteString(`",algorithm=MD5`)
	if qop {
		b.WriteString(`,qop="auth"`)
	}
	if stale {
		b.WriteString(`,stale=true`)
	}
	return b.String()
}

// Reasons a REGISTER's credentials are refused.
var (
	errNoCredentials  = errors.New("no digest credentials")
	errBadCredentials = errors.New("malformed digest credentials")
	errForeignNonce   = errors.New("nonce was not issued by this platform")
	errStaleNonce     = errors.New("nonce expired")
	errWrongPassword  = errors.New("wrong digest response (password)")
)

// verifyDigest checks an Authorization header value against password, for
// method. It accepts answers with qop=auth (RFC 2617) and without (RFC
// 2069), in any letter case, with the realm and URI the device used.
func (n *nonceSigner) verifyDigest(authz, method, password string, now time.Time) (*digest.Credentials, error) {
	if authz == "" {
		return nil, errNoCredentials
	}
	cred, err := digest.ParseCredentials(authz)
	if err != nil || cred.Nonce == "" || cred.Response == "" {
		return nil, errBadCredentials
	}
	switch strings.ToUpper(cred.Algorithm) {
	case "", "MD5":
	default:
		return cred, errBadCredentials
	}
	valid, fresh := n.check(cred.Nonce, now)
	if !valid {
		return cred, errForeignNonce
	}
	chal := &digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Opaque: cred.Opaque, Algorithm: "MD5"}
	opts := digest.Options{Method: method, URI: cred.URI, Username: cred.Username, Password: password}
	if cred.QOP != "" {
		if !strings.EqualFold(cred.QOP, "auth") {
			return cred, errBadCredentials // auth-int is not offered
		}
		chal.QOP = []string{"auth"}
		opts.Cnonce, opts.Count = cred.Cnonce, cred.Nc
		if opts.Count == 0 {
			opts.Count = 1
		}
	}
	want, err := digest.Digest(chal, opts)
	if err != nil {
		return cred, errBadCredentials
	}
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(want.Response)), []byte(strings.ToLower(cred.Response))) != 1 {
		return cred, errWrongPassword
	}
	if !fresh {
		return cred, errStaleNonce
	}
	return cred, nil
}
