package conf

import (
	"strings"
	"testing"
	"time"
)

func TestUpstreams(t *testing.T) {
	t.Setenv("SKYRELAY_GB28181_UPSTREAM_CITY_A_PASSWORD", "from-env")
	c, err := Parse([]byte(`
gb28181:
  upstreams:
    - name: city-a
      address: 192.0.2.10:5060
      server_id: "44010000002000000001"
      channels: ["live/**"]
    - name: nvr
      address: nvr.local:15060
      transport: tcp
      server_id: "44010000002000000002"
      domain: "4401000099"
      local_id: "34020000002000000009"
      password: pw
      register_expires: 600s
      keepalive_interval: 30s
`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.GB28181.Upstreams[0], c.GB28181.Upstreams[1]
	if a.Transport != "udp" || a.Domain != "4401000000" || a.LocalID != "34020000002000000001" || a.Password != "from-env" ||
		a.RegisterExpires != time.Hour || a.KeepaliveInterval != time.Minute || len(a.Channels) != 1 {
		t.Fatalf("defaults %+v", a)
	}
	if b.Transport != "tcp" || b.Domain != "4401000099" || b.LocalID != "34020000002000000009" || b.Password != "pw" ||
		b.RegisterExpires != 600*time.Second || b.KeepaliveInterval != 30*time.Second {
		t.Fatalf("set %+v", b)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"- {name: a, address: x, server_id: \"44010000002000000001\"}", "address"},
		{"- {name: a, address: \"h:1\", server_id: \"4401\"}", "server_id"},
		{"- {name: a, address: \"h:1\", server_id: \"44010000002000000001\", transport: sctp}", "transport"},
		{"- {address: \"h:1\", server_id: \"44010000002000000001\"}", "name"},
		{"- {name: a, address: \"h:1\", server_id: \"44010000002000000001\"}\n    - {name: a, address: \"h:2\", server_id: \"44010000002000000001\"}", "used twice"},
		{"- {name: a, address: \"h:1\", server_id: \"44010000002000000001\", nope: 1}", "unknown key"},
	} {
		_, err := Parse([]byte("gb28181:\n  upstreams:\n    " + tc.yaml + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.yaml, err, tc.want)
		}
	}
	if UpstreamPasswordEnv("city.a-1") != "SKYRELAY_GB28181_UPSTREAM_CITY_A_1_PASSWORD" {
		t.Fatal(UpstreamPasswordEnv("city.a-1"))
	}
}
