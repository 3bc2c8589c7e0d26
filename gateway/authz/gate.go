package authz

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"sync"
)

// ErrUnauthorized refuses a publisher or reader without a valid credential.
var ErrUnauthorized = errors.New("a credential is required to publish from this address")

// Credential is what a client presented: a user and password (RTSP, RTMP
// query), or a token (WHIP bearer, ?secret= in a URL).
type Credential struct {
	User, Pass, Token string
	// JWT is a token from ?jwt= or ?token= (a bearer token is in Token);
	// Query the request's raw query, for the authorization hook.
	JWT, Query string
}

// StaticUser may publish to any path from anywhere.
type StaticUser struct{ User, Pass string }

// Auth decides who may publish. Loopback may always publish, so a newcomer
// can try ffmpeg at once; anything else needs a per-push secret minted by
// the control plane for that path, or a static credential from the config.
type Auth struct {
	Static []StaticUser
	// ReadUser and ReadPass, when set, are required from non-loopback
	// readers.
	ReadUser, ReadPass string
	// Authz, when enabled (auth.jwt, auth.hook), authorizes each reader
	// by token or hook instead (see AuthorizeRead).
	Authz *Authorizer
	// DistrustLoopback treats loopback readers like any others
	// (auth.loopback_trusted: false), for a reverse proxy on this host
	// through which every viewer seems to come from loopback. Publishing
	// from loopback stays open.
	DistrustLoopback bool

	mu      sync.Mutex
	secrets map[string]string // secret -> path
}

// Mint returns a fresh secret that lets one push publish path, until revoke
// is called. Reconnects of the same push reuse it.
func (a *Auth) Mint(path string) (secret string, revoke func()) {
	var b [18]byte
	_, _ = rand.Read(b[:])
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	a.mu.Lock()
	if a.secrets == nil {
		a.secrets = map[string]string{}
	}
	a.secrets[secret] = path
	a.mu.Unlock()
	return secret, func() {
		a.mu.Lock()
		delete(a.secrets, secret)
		a.mu.Unlock()
	}
}

// CheckPublish allows or refuses a publisher of path at remote.
func (a *Auth) CheckPublish(path string, remote net.Addr, c Credential) error {
	if IsLoopback(remote) {
		return nil
	}
	a.mu.Lock()
	for _, s := range []string{c.Token, c.Pass} {
		if s != "" && a.secrets[s] == path {
			a.mu.Unlock()
			return nil
		}
	}
	a.mu.Unlock()
	for _, u := range a.Static {
		if equal(u.User, c.User) && equal(u.Pass, c.Pass) && u.Pass != "" {
			return nil
		}
	}
	return ErrUnauthorized
}

// CheckRead allows or refuses a reader at remote.
func (a *Auth) CheckRead(remote net.Addr, c Credential) error {
	if a.ReadPass == "" || IsLoopback(remote) && !a.DistrustLoopback {
		return nil
	}
	if equal(a.ReadUser, c.User) && equal(a.ReadPass, c.Pass) {
		return nil
	}
	return ErrUnauthorized
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// IsLoopback tells whether addr is on this machine's loopback.
func IsLoopback(addr net.Addr) bool {
	var ip net.IP
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	case nil:
		return false
	default:
		host, _, err := net.SplitHostPort(addr.String())
		if err != nil {
			host = addr.String()
		}
		ip = net.ParseIP(host)
	}
	return ip != nil && ip.IsLoopback()
}
