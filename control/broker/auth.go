package broker

import (
	"crypto/subtle"
	"net"
	"path"
	"strings"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// access is what one authenticated client may touch.
type access struct {
	all      bool
	gateways map[string]bool
	patterns []string // globs such as 1581F5* (path.Match), checked after gateways
}

// newAccess reads an account's Gateways: the SNs of the devices holding a
// connection (docks, remote controllers) it may act for. Empty means the
// account is a single device whose SN is the user name; "*" means any
// device (a shared Pilot account, a tool); an entry with *, ? or [ is a
// glob over SNs (a fleet sharing a prefix) that still only reaches device
// topics.
func newAccess(u conf.MQTTUser) *access {
	a := &access{gateways: map[string]bool{}}
	if len(u.Gateways) == 0 {
		a.gateways[u.User] = true
	}
	for _, g := range u.Gateways {
		switch {
		case g == "*":
			a.all = true
		case strings.ContainsAny(g, "*?["):
			a.patterns = append(a.patterns, g)
		default:
			a.gateways[g] = true
		}
	}
	return a
}

func (a *access) has(sn string) bool {
	if a.gateways[sn] {
		return true
	}
	for _, p := range a.patterns {
		if ok, _ := path.Match(p, sn); ok {
			return true
		}
	}
	return false
}

// authHook authenticates clients of the embedded broker and keeps each
// device account to its own topics.
//
// The rule: a topic (or subscription filter) belongs to a device when it is
// sys/product/{sn}/... or thing/product/{sn}/... with a literal {sn} that is
// one of the account's devices, or an aircraft whose dock or remote
// controller (learned from update_topo) is one of them. Anything else -
// other SNs, a wildcard in the SN position, $SYS, shared subscriptions - is
// refused. Minted accounts (Embedded.Mint, the Pilot page's) act for
// their one SN the same way. Anonymous clients (admitted from loopback always, from anywhere
// with allow_anonymous) and accounts with Gateways ["*"] may touch every
// topic.
type authHook struct {
	mqtt.HookBase
	users          map[string]conf.MQTTUser
	access         map[string]*access
	anonymous      bool
	parentOf       func(sn string) string
	minted         *mintedUsers
	onDeniedAccess func(username, topic string, write bool)

	denied atomic.Uint64 // refusals of the topic rule
}

func newAuthHook(users []conf.MQTTUser, anonymous bool, parentOf func(string) string) *authHook {
	h := &authHook{users: map[string]conf.MQTTUser{}, access: map[string]*access{},
		anonymous: anonymous, parentOf: parentOf, minted: newMintedUsers()}
	for _, u := range users {
		h.users[u.User] = u
		h.access[u.User] = newAccess(u)
	}
	return h
}

func (h *authHook) ID() string { return "skyrelay-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

// OnConnectAuthenticate admits a client with a configured username and its
// password, or an anonymous client where anonymous access is allowed. A
// client that names a user must know its password, even on loopback.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	if user == "" {
		return h.anonymous || isLoopback(cl.Net.Remote)
	}
	u, ok := h.users[user]
	if !ok {
		return h.minted.authenticate(user, pk.Connect.Password)
	}
	if u.Password == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(string(u.Password)), pk.Connect.Password) == 1
}

// OnACLCheck applies the topic rule above to publishes (write) and to
// subscriptions and deliveries (read).
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	if user == "" {
		return true // only admitted where anonymous access is allowed
	}
	a := h.accessOf(user)
	ok := a != nil && h.topicAllowed(a, topic)
	if !ok {
		h.denied.Add(1)
		if h.onDeniedAccess != nil {
			h.onDeniedAccess(user, topic, write)
		}
	}
	return ok
}

// accessOf is a configured account's access, or a live minted account's
// (nil for anything else: a revoked account touches nothing).
func (h *authHook) accessOf(user string) *access {
	if a := h.access[user]; a != nil {
		return a
	}
	return h.minted.access(user)
}

func (h *authHook) topicAllowed(a *access, topic string) bool {
	if a.all {
		return true
	}
	sn, ok := cloudapi.SN(topic)
	if !ok {
		return false
	}
	if a.has(sn) {
		return true
	}
	if h.parentOf != nil {
		if parent := h.parentOf(sn); parent != "" && a.has(parent) {
			return true
		}
	}
	return false
}

func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// onceLog remembers which accounts were already logged as refused, so a
// device hammering another's topics costs one log line and a counter, not a
// flood. Bounded: past maxLogged accounts, refusals are only counted.
type onceLog struct {
	mu   sync.Mutex
	seen map[string]bool
}

const maxLogged = 4096

func (o *onceLog) first(user string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen == nil {
		o.seen = map[string]bool{}
	}
	if o.seen[user] || len(o.seen) >= maxLogged {
		return false
	}
	o.seen[user] = true
	return true
}

func (o *onceLog) forget(user string) {
	o.mu.Lock()
	delete(o.seen, user)
	o.mu.Unlock()
}
