package broker

import (
	"errors"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// ErrNotEmbedded is returned when minting needs the embedded broker.
var ErrNotEmbedded = errors.New("the embedded broker is not running")

// refused logs the first refusal of each account at warn level (user
// name, topic and direction: never a password) and counts every one.
func (e *Embedded) refused(user, topic string, publish bool) {
	if e.OnRefused != nil {
		e.OnRefused(publish)
	}
	if e.logged.first(user) {
		e.Log.Warn("device refused a topic outside its own; further refusals of this account are only counted",
			"username", user, "topic", topic, "publish", publish)
		return
	}
	e.Log.Debug("topic refused by the ACL", "username", user, "topic", topic, "publish", publish)
}

// Refused is how many publishes, subscriptions and deliveries the topic
// rule refused since Initialize.
func (e *Embedded) Refused() uint64 {
	if e.hook == nil {
		return 0
	}
	return e.hook.denied.Load()
}

// Mint creates broker credentials valid for ttl that may touch only sn's
// topics (and those of aircraft connected through sn). They live in
// memory: a restart forgets them.
func (e *Embedded) Mint(sn string, ttl time.Duration) (Credentials, error) {
	if e.hook == nil {
		return Credentials{}, ErrNotEmbedded
	}
	return e.hook.minted.mint(sn, ttl)
}

// Revoke forgets a minted account and disconnects its clients; false if
// there was no such account.
func (e *Embedded) Revoke(username string) bool {
	if e.hook == nil || !e.hook.minted.revoke(username) {
		return false
	}
	e.logged.forget(username)
	for _, cl := range e.server.Clients.GetAll() {
		if !cl.Net.Inline && string(cl.Properties.Username) == username {
			_ = e.server.DisconnectClient(cl, packets.ErrNotAuthorized)
		}
	}
	return true
}

// Minted lists the minted accounts not yet expired, without passwords.
func (e *Embedded) Minted() []MintedAccount {
	if e.hook == nil {
		return []MintedAccount{}
	}
	return e.hook.minted.list()
}
