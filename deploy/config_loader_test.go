package deploy

import (
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	for _, c := range []struct {
		name, yml string
		err       string // substring; "" = loads
	}{
		{"empty", "", ""},
		{"known keys", "http:\n  listen: \":9000\"\n", ""},
		{"unknown key refused by conf", "http:\n  listn: \":9000\"\n", "http.listn: unknown key"},
		{"bad value refused by conf", "log_level: loud\n", "log_level"},
		{"wrong type refused by conf", "streams:\n  reader_queue: lots\n", "streams.reader_queue"},
		{"cluster section", "mqtt:\n  broker: tcp://emqx:1883\ncluster:\n  enabled: true\n  node_id: a\n", ""},
		{"typo in a known section", "cluster:\n  enable: true\n", "cluster.enable"},
		{"pending leaf", "tls: {cert_file: c.pem, key_file: k.pem}\nrtsp:\n  tls_listen: \":8322\"\n", ""},
		{"pending subtree", "record:\n  enabled: true\n  paths: [\"**\"]\n", ""},
		{"a list in a known section", "gb28181:\n  upstreams:\n    - {name: city, address: \"10.0.0.9:5060\", server_id: \"34020000002000000009\"}\n", ""},
		{"yaml error", "http: [\n", "deploy-test"},
	} {
		g, err := loadConfig("deploy-test", []byte(c.yml))
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: err %v, want one containing %q", c.name, err, c.err)
		case c.name == "pending leaf" && g.pending["rtsp.tls_listen"] != ":8322" && !confKnows("rtsp.tls_listen"):
			t.Errorf("%s: pending %v", c.name, g.pending)
		case c.name == "known keys" && g.conf.HTTP.Listen != ":9000":
			t.Errorf("%s: http.listen = %q", c.name, g.conf.HTTP.Listen)
		}
	}
}

// TestNotYetInConf logs the entries of notYetInConf that conf knows by now
// (they no longer do anything and can go) and fails on entries that are not
// in the documented outside names at all.
func TestNotYetInConf(t *testing.T) {
	for _, k := range notYetInConf {
		if confKnows(k) {
			t.Logf("notYetInConf: conf knows %s now; remove it from deploy/config_test.go", k)
		}
		if !strings.HasPrefix(k, "cluster.") && !strings.HasPrefix(k, "tls.") && !strings.HasSuffix(k, "tls_listen") &&
			k != "record" && k != "gb28181.upstreams" {
			t.Errorf("notYetInConf: %s is not one of this wave's keys (cluster, tls, record, gb28181.upstreams)", k)
		}
	}
}

func TestOpenedPorts(t *testing.T) {
	for _, c := range []struct {
		name, yml string
		want      []string // ports that must be there
		absent    []string // ports that must not
		n         int
		err       string
	}{
		{name: "defaults", yml: "", n: 1 + 1 + 1 + 2 + 2 + 2 + 1000 + 2,
			want: []string{"8080/tcp", "1935/tcp", "8554/tcp", "8000/udp", "8001/udp", "8189/udp", "8189/tcp", "5060/udp", "5060/tcp",
				"30000/udp", "30499/tcp", "1883/tcp", "8083/tcp"},
			absent: []string{"8000/tcp", "30500/udp"}},
		{name: "external broker closes the embedded one", yml: "mqtt:\n  broker: tcp://emqx:1883\n",
			absent: []string{"1883/tcp", "8083/tcp"}, n: 1009},
		{name: "ws off", yml: "mqtt:\n  embedded:\n    ws_listen: \"\"\n", absent: []string{"8083/tcp"}, n: 1010},
		{name: "tls on", yml: "tls: {cert_file: c.pem, key_file: k.pem}\nrtmp:\n  tls_listen: \":1936\"\n", want: []string{"1936/tcp"}, n: 1012},
		{name: "moved", yml: "http:\n  listen: \"127.0.0.1:9000\"\n", want: []string{"9000/tcp"}, absent: []string{"8080/tcp"}, n: 1011},
		{name: "clash", yml: "rtmp:\n  listen: \":8080\"\n", err: "both open 8080/tcp"},
		{name: "random port", yml: "http:\n  listen: \":0\"\n", err: "no fixed port"},
		{name: "odd rtp", yml: "rtsp:\n  udp_rtp_listen: \":8001\"\n  udp_rtcp_listen: \":8002\"\n", err: "must be even"},
		{name: "rtcp not next", yml: "rtsp:\n  udp_rtp_listen: \":8000\"\n  udp_rtcp_listen: \":8003\"\n", err: "the next port"},
	} {
		g, err := loadConfig(c.name, []byte(c.yml))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		ps, err := openedPorts(g)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		have := map[string]bool{}
		for p := range ps {
			have[p.String()] = true
		}
		for _, w := range c.want {
			if !have[w] {
				t.Errorf("%s: %s missing", c.name, w)
			}
		}
		for _, a := range c.absent {
			if have[a] {
				t.Errorf("%s: %s opened", c.name, a)
			}
		}
		if c.n != 0 && len(ps) != c.n {
			t.Errorf("%s: %d ports, want %d", c.name, len(ps), c.n)
		}
	}
}

// TestListenerProtocolsCoverConf: every listen key conf has is known here
// (openedPorts would fail on the others, but say it once, by name).
func TestListenerProtocolsCoverConf(t *testing.T) {
	g, err := loadConfig("defaults", nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	collectListenKeys(reflectValue(g), "", keys)
	if len(keys) < 8 {
		t.Fatalf("found only %d listen keys in conf.Config: %v", len(keys), keys)
	}
	for k := range keys {
		if _, ok := listenerProtocols[k]; !ok {
			t.Errorf("conf key %s opens ports: add it to listenerProtocols and to every manifest", k)
		}
	}
}

func TestParsePortSpec(t *testing.T) {
	for _, c := range []struct {
		in     string
		lo, hi int
		proto  string
		err    bool
	}{
		{"8080", 8080, 8080, "tcp", false},
		{"8000/UDP", 8000, 8000, "udp", false},
		{"30000-30099/tcp", 30000, 30099, "tcp", false},
		{"0", 0, 0, "", true},
		{"70000", 0, 0, "", true},
		{"2-1", 0, 0, "", true},
		{"80/icmp", 0, 0, "", true},
		{"a-b", 0, 0, "", true},
		{"", 0, 0, "", true},
	} {
		lo, hi, proto, err := parsePortSpec(c.in)
		if (err != nil) != c.err || lo != c.lo || hi != c.hi || proto != c.proto {
			t.Errorf("%q: %d %d %q %v", c.in, lo, hi, proto, err)
		}
	}
}

func FuzzParsePortSpec(f *testing.F) {
	for _, s := range []string{"8080", "8000/udp", "30000-30099/tcp", "-/", "1-65536"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, _, err := parsePortSpec(s)
		if err == nil && (lo < 1 || hi > 65535 || lo > hi) {
			t.Fatalf("%q: accepted %d-%d", s, lo, hi)
		}
	})
}
