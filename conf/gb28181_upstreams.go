package conf

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/skyrelay/skyrelay/gb28181/gbid"
)

// GB28181Upstream is one gb28181.upstreams entry: an upper platform (an
// NVR, a city platform, wvp) this gateway registers to as a lower platform
// (docs/gb28181-cascade.md).
type GB28181Upstream struct {
	Name              string        `yaml:"name"`
	Address           string        `yaml:"address"`   // host:port of its SIP
	Transport         string        `yaml:"transport"` // udp | tcp
	ServerID          string        `yaml:"server_id"`
	Domain            string        `yaml:"domain"`   // default: the first 10 digits of server_id
	LocalID           string        `yaml:"local_id"` // default: gb28181.server_id
	Password          Secret        `yaml:"password"`
	RegisterExpires   time.Duration `yaml:"register_expires"`
	KeepaliveInterval time.Duration `yaml:"keepalive_interval"`
	Channels          []string      `yaml:"channels"` // path globs; [] = everything
}

// upstreamDefaults fills what an entry left out.
func (g *GB28181) upstreamDefaults() {
	for i := range g.Upstreams {
		u := &g.Upstreams[i]
		if u.Transport == "" {
			u.Transport = "udp"
		}
		if u.Domain == "" && len(u.ServerID) >= 10 {
			u.Domain = u.ServerID[:10]
		}
		if u.LocalID == "" {
			u.LocalID = g.ServerID
		}
		if u.RegisterExpires == 0 {
			u.RegisterExpires = time.Hour
		}
		if u.KeepaliveInterval == 0 {
			u.KeepaliveInterval = time.Minute
		}
	}
}

// UpstreamPasswordEnv is the environment variable that holds the password
// of the upstream named name: SKYRELAY_GB28181_UPSTREAM_<NAME>_PASSWORD,
// the name in capitals with every other character than a letter or digit
// as '_'.
func UpstreamPasswordEnv(name string) string {
	b := []byte(strings.ToUpper(name))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return "SKYRELAY_GB28181_UPSTREAM_" + string(b) + "_PASSWORD"
}

func (g *GB28181) upstreamsFromEnv() {
	for i := range g.Upstreams {
		if v := os.Getenv(UpstreamPasswordEnv(g.Upstreams[i].Name)); v != "" {
			g.Upstreams[i].Password = Secret(v)
		}
	}
}

// validateUpstreams checks every entry; it returns one line per problem.
func (g *GB28181) validateUpstreams() []string {
	var errs []string
	names := map[string]bool{}
	for i, u := range g.Upstreams {
		key := "gb28181.upstreams[" + strconv.Itoa(i) + "]"
		bad := func(field, format string, a ...any) {
			errs = append(errs, key+"."+field+": "+fmt.Sprintf(format, a...))
		}
		if u.Name == "" {
			bad("name", "is needed")
		} else if names[u.Name] {
			bad("name", "%q is used twice", u.Name)
		}
		names[u.Name] = true
		if host, port, err := net.SplitHostPort(u.Address); err != nil || host == "" {
			bad("address", "must be host:port, not %q", u.Address)
		} else if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			bad("address", "bad port in %q", u.Address)
		}
		if u.Transport != "udp" && u.Transport != "tcp" {
			bad("transport", "must be udp or tcp, not %q", u.Transport)
		}
		if !gbid.Digits(u.ServerID, 20) {
			bad("server_id", "must be 20 digits, not %q", u.ServerID)
		}
		if !gbid.Digits(u.Domain, 10) {
			bad("domain", "must be 10 digits, not %q", u.Domain)
		}
		if !gbid.Digits(u.LocalID, 20) {
			bad("local_id", "must be 20 digits, not %q", u.LocalID)
		}
		if u.RegisterExpires < time.Second {
			bad("register_expires", "must be at least 1s, not %v", u.RegisterExpires)
		}
		if u.KeepaliveInterval < 100*time.Millisecond {
			bad("keepalive_interval", "must be at least 100ms, not %v", u.KeepaliveInterval)
		}
	}
	return errs
}
