package broker

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"
)

// Credentials are a minted broker account: a user name and password that
// the embedded broker accepts until Expires, for one device's topics.
type Credentials struct {
	Username string    `json:"username"`
	Password string    `json:"password"`
	SN       string    `json:"sn"`
	Expires  time.Time `json:"expires"`
}

// MintedAccount describes a minted account without its password.
type MintedAccount struct {
	Username string    `json:"username"`
	SN       string    `json:"sn"`
	Expires  time.Time `json:"expires"`
}

// mintedPrefix starts every minted user name; conf refuses configured
// users with it, so the two kinds never collide.
const mintedPrefix = "pilot-"

// maxMinted bounds the minted accounts held at once; expired ones are
// dropped when a new one is minted.
const maxMinted = 10000

// ErrTooManyMinted is returned by Mint when maxMinted live accounts exist.
var ErrTooManyMinted = errors.New("too many minted broker accounts")

// mintedUsers holds minted accounts in memory only: a restart forgets
// them, and the devices using them must be given new ones. Only a hash of
// each password is kept.
type mintedUsers struct {
	mu    sync.Mutex
	users map[string]mintedUser
	now   func() time.Time
}

type mintedUser struct {
	hash    [sha256.Size]byte
	sn      string
	acc     *access // built once: the ACL runs on every message
	expires time.Time
}

func newMintedUsers() *mintedUsers {
	return &mintedUsers{users: map[string]mintedUser{}, now: time.Now}
}

// mint creates an account for sn valid for ttl.
func (m *mintedUsers) mint(sn string, ttl time.Duration) (Credentials, error) {
	var secret [24]byte
	var tag [6]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return Credentials{}, err
	}
	if _, err := rand.Read(tag[:]); err != nil {
		return Credentials{}, err
	}
	now := m.now()
	c := Credentials{
		Username: mintedPrefix + sn + "-" + hex.EncodeToString(tag[:]),
		Password: base64.RawURLEncoding.EncodeToString(secret[:]),
		SN:       sn,
		Expires:  now.Add(ttl).UTC().Truncate(time.Second),
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, u := range m.users {
		if !now.Before(u.expires) {
			delete(m.users, name)
		}
	}
	if len(m.users) >= maxMinted {
		return Credentials{}, ErrTooManyMinted
	}
	m.users[c.Username] = mintedUser{hash: sha256.Sum256([]byte(c.Password)), sn: sn,
		acc: &access{gateways: map[string]bool{sn: true}}, expires: c.Expires}
	return c, nil
}

// authenticate reports whether user/password is a live minted account.
func (m *mintedUsers) authenticate(user string, password []byte) bool {
	if !strings.HasPrefix(user, mintedPrefix) {
		return false
	}
	m.mu.Lock()
	u, ok := m.users[user]
	m.mu.Unlock()
	if !ok || !m.now().Before(u.expires) {
		return false
	}
	h := sha256.Sum256(password)
	return subtle.ConstantTimeCompare(h[:], u.hash[:]) == 1
}

// access is what a minted account may touch (its one SN); nil once the
// account was revoked. Expiry bounds logging in, not a connected session
// (a flight is not cut off mid-air); revoking ends the session.
func (m *mintedUsers) access(user string) *access {
	if !strings.HasPrefix(user, mintedPrefix) {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.users[user].acc
}

// revoke forgets user; false if there was no such account.
func (m *mintedUsers) revoke(user string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.users[user]
	delete(m.users, user)
	return ok
}

// list returns the accounts not yet expired, by user name.
func (m *mintedUsers) list() []MintedAccount {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := []MintedAccount{}
	for name, u := range m.users {
		if now.Before(u.expires) {
			out = append(out, MintedAccount{Username: name, SN: u.sn, Expires: u.expires})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out
}
