package broker

import (
	"crypto/subtle"
	"net"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// access is what one authenticated client may touch.
type access struct {
	all      bool
	gateways map[string]bool
}

// newAccess reads an account's Gateways: the SNs of the devices holding a
// connection (docks, remote controllers) it may act for. Empty means the
// account is a single device whose SN is the user name; "*" means any
// device (a shared Pilot account, a tool).
func newAccess(u conf.MQTTUser) *access {
	a := &access{gateways: map[string]bool{}}
	if len(u.Gateways) == 0 {
		a.gateways[u.User] = true
	}
	for _, g := range u.Gateways {
		if g == "*" {
			a.all = true
		}
		a.gateways[g] = true
	}
	return a
}

// authHook authenticates clients of the embedded broker and keeps each
// device account to its own topics.
//
// The rule: a topic (or subscription filter) belongs to a device when it is
// sys/product/{sn}/... or thing/product/{sn}/... with a literal {sn} that is
// one of the account's devices, or an aircraft whose dock or remote
// controller (learned from update_topo) is one of them. Anything else -
// other SNs, a wildcard in the SN position, $SYS, shared subscriptions - is
// refused. Anonymous clients (admitted from loopback always, from anywhere
// with allow_anonymous) and accounts with Gateways ["*"] may touch every
// topic.
type authHook struct {
	mqtt.HookBase
	users          map[string]conf.MQTTUser
	access         map[string]*access
	anonymous      bool
	parentOf       func(sn string) string
	onDeniedAccess func(username, topic string, write bool)
}

func newAuthHook(users []conf.MQTTUser, anonymous bool, parentOf func(string) string) *authHook {
	h := &authHook{users: map[string]conf.MQTTUser{}, access: map[string]*access{},
		anonymous: anonymous, parentOf: parentOf}
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
	if !ok || u.Password == "" {
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
	a := h.access[user]
	ok := a != nil && h.topicAllowed(a, topic)
	if !ok && h.onDeniedAccess != nil {
		h.onDeniedAccess(user, topic, write)
	}
	return ok
}

func (h *authHook) topicAllowed(a *access, topic string) bool {
	if a.all {
		return true
	}
	sn, ok := cloudapi.SN(topic)
	if !ok {
		return false
	}
	if a.gateways[sn] {
		return true
	}
	if h.parentOf != nil {
		if parent := h.parentOf(sn); parent != "" && a.gateways[parent] {
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
