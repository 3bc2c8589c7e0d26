package deploy

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []yaml.Node       `yaml:"ports"`
	Environment map[string]string `yaml:"environment"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// composePorts reads a service's published ports, short syntax
// ("[ip:]host[-range]:container[-range][/proto]") or long
// ({target, published, protocol}): container port -> host port.
func composePorts(nodes []yaml.Node) (map[port]int, error) {
	out := map[port]int{}
	for _, n := range nodes {
		var host, container, proto string
		switch n.Kind {
		case yaml.ScalarNode:
			spec, pr, hasProto := strings.Cut(n.Value, "/")
			parts := strings.Split(spec, ":")
			if len(parts) < 2 || len(parts) > 3 {
				return nil, fmt.Errorf("line %d: port %q: publish it as HOST:CONTAINER (the host port must be the advertised one)", n.Line, n.Value)
			}
			host, container = parts[len(parts)-2], parts[len(parts)-1]
			if hasProto {
				container += "/" + pr
				host += "/" + pr
			}
		case yaml.MappingNode:
			var long struct {
				Target    string `yaml:"target"`
				Published string `yaml:"published"`
				Protocol  string `yaml:"protocol"`
			}
			if err := n.Decode(&long); err != nil {
				return nil, err
			}
			proto = long.Protocol
			if proto == "" {
				proto = "tcp"
			}
			host, container = long.Published+"/"+proto, long.Target+"/"+proto
		default:
			return nil, fmt.Errorf("line %d: a port is a string or a mapping", n.Line)
		}
		clo, chi, cproto, err := parsePortSpec(container)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		hlo, hhi, _, err := parsePortSpec(host)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		if hhi-hlo != chi-clo {
			return nil, fmt.Errorf("line %d: %q: host and container ranges differ in size", n.Line, n.Value)
		}
		for i := 0; i <= chi-clo; i++ {
			p := port{clo + i, cproto}
			if _, dup := out[p]; dup {
				return nil, fmt.Errorf("line %d: %s published twice", n.Line, p)
			}
			out[p] = hlo + i
		}
	}
	return out, nil
}

// checkCompose checks deploy/compose.yml: an EMQX 5 broker and at least two
// gateways built from deploy/Dockerfile, each with a config that conf
// loads, cluster on, the broker pointing at the EMQX service, an identity
// of its own, and exactly the ports its config opens published on the same
// host port.
func checkCompose(text []byte, dir string, t *testing.T) []string {
	var errs []string
	bad := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
	var cf composeFile
	if err := yaml.Unmarshal(text, &cf); err != nil {
		return []string{err.Error()}
	}
	brokers := map[string]bool{}
	for name, s := range cf.Services {
		if strings.HasPrefix(s.Image, "emqx/emqx:5.") {
			brokers[name] = true
			if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
				bad("%s: no healthcheck: the gateways cannot wait for the broker", name)
			}
		}
	}
	if len(brokers) != 1 {
		bad("want one EMQX 5 service (image emqx/emqx:5.x), have %d", len(brokers))
	}
	hostPorts := map[port]string{}
	nodeIDs, clientIDs := map[string]string{}, map[string]string{}
	gateways := 0
	for name, s := range cf.Services {
		ports, err := composePorts(s.Ports)
		if err != nil {
			bad("%s: %v", name, err)
			continue
		}
		for p, h := range ports {
			hp := port{h, p.proto}
			if other, dup := hostPorts[hp]; dup {
				bad("%s and %s both publish host port %s", other, name, hp)
			}
			hostPorts[hp] = name
		}
		if s.Build == nil || filepath.ToSlash(s.Build.Dockerfile) != "deploy/Dockerfile" {
			continue
		}
		gateways++
		if _, err := os.Stat(filepath.Join(dir, s.Build.Context, s.Build.Dockerfile)); err != nil {
			bad("%s: build: %v", name, err)
		}
		g, err := composeConfig(name, s, dir)
		if err != nil {
			bad("%s: %v", name, err)
			continue
		}
		if g.rawValue("cluster.enabled") != true {
			bad("%s: cluster.enabled is not true", name)
		}
		u, err := url.Parse(g.conf.MQTT.Broker)
		if err != nil || u.Scheme != "tcp" || !brokers[u.Hostname()] {
			bad("%s: mqtt.broker %q: want tcp://<the EMQX service>:1883", name, g.conf.MQTT.Broker)
		} else if s.DependsOn[u.Hostname()].Condition != "service_healthy" {
			bad("%s: depends_on %s: want condition service_healthy", name, u.Hostname())
		}
		id, _ := g.rawValue("cluster.node_id").(string)
		if id == "" {
			bad("%s: cluster.node_id is empty: two containers may share a host name", name)
		} else if other, dup := nodeIDs[id]; dup {
			bad("%s and %s share cluster.node_id %q", other, name, id)
		}
		nodeIDs[id] = name
		if other, dup := clientIDs[g.conf.MQTT.ClientID]; dup {
			bad("%s and %s share mqtt.client_id %q: one would take the other's MQTT session", other, name, g.conf.MQTT.ClientID)
		}
		clientIDs[g.conf.MQTT.ClientID] = name
		for env := range s.Environment {
			if strings.HasPrefix(env, "SKYRELAY_") && !confReadsEnv(t, env) {
				bad("%s: environment %s: conf reads no such variable", name, env)
			}
		}
		opened, err := openedPorts(g)
		if err != nil {
			bad("%s: %v", name, err)
			continue
		}
		published := portSet{}
		for p, h := range ports {
			published.add(p.num, p.proto, "ports")
			if h != p.num {
				bad("%s: container port %s published on host port %d: devices and viewers get the port the gateway listens on", name, p, h)
			}
		}
		if m := opened.missingFrom(published); m != "" {
			bad("%s: ports lacks %s", name, m)
		}
		if m := published.missingFrom(opened); m != "" {
			bad("%s: publishes ports its config does not open: %s", name, m)
		}
	}
	if gateways < 2 {
		bad("want at least two gateways built from deploy/Dockerfile, have %d", gateways)
	}
	return errs
}

// composeConfig loads the config a gateway service starts with: the file
// mounted where its -config flag points.
func composeConfig(name string, s composeService, dir string) (gatewayConfig, error) {
	cfg := "/etc/skyrelay/skyrelay.yml" // the image's CMD
	for i := range s.Command {
		if s.Command[i] == "-config" && i+1 < len(s.Command) {
			cfg = s.Command[i+1]
		}
	}
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == cfg {
			p := filepath.Join(dir, parts[0])
			b, err := os.ReadFile(p)
			if err != nil {
				return gatewayConfig{}, err
			}
			return loadConfig(p, b)
		}
	}
	return gatewayConfig{}, fmt.Errorf("no volume mounts a config at %s (-config)", cfg)
}

func TestCompose(t *testing.T) {
	b := readFile(t, "compose.yml")
	for _, e := range checkCompose(b, ".", t) {
		t.Error("compose.yml: " + e)
	}
}

// TestComposeChecks breaks compose.yml one way at a time.
func TestComposeChecks(t *testing.T) {
	b := readFile(t, "compose.yml")
	orig := string(b)
	for _, c := range []struct{ old, new, want string }{
		{`      - "8010:8010/udp"` + "\n", "", "gw2: ports lacks 8010/udp (rtsp.udp_rtp_listen)"},
		{`"30100-30199:30100-30199/tcp"`, `"30100-30198:30100-30198/tcp"`, "ports lacks 30199/tcp"},
		{`"8090:8090/tcp"`, `"18090:8090/tcp"`, "published on host port 18090"},
		{`"1945:1945/tcp"`, `"1935:1945/tcp"`, "both publish host port 1935/tcp"},
		{`      - "8189:8189/tcp"     # WebRTC (ICE-TCP)` + "\n", "", "gw1: ports lacks 8189/tcp (webrtc.listen)"},
		{`      - "5070:5070/udp"` + "\n", `      - "5070:5070/udp"` + "\n" + `      - "9000:9000"` + "\n", "does not open: 9000/tcp"},
		{"image: emqx/emqx:5.8.9", "image: emqx/emqx:4.4.19", "want one EMQX 5 service"},
		{"./compose/gw2.yml:/etc", "./compose/gw1.yml:/etc", "share cluster.node_id"},
		{"condition: service_healthy", "condition: service_started", "want condition service_healthy"},
		{"SKYRELAY_API_TOKEN: ${", "SKYRELAY_API_TOKN: ${", "SKYRELAY_API_TOKN: conf reads no such variable"},
		{"dockerfile: deploy/Dockerfile", "dockerfile: deploy/Dockerfile.none", "want at least two gateways"},
	} {
		broken := strings.Replace(orig, c.old, c.new, 1)
		if broken == orig {
			t.Errorf("mutation %q not applied: compose.yml changed, update this test", c.old)
			continue
		}
		errs := checkCompose([]byte(broken), ".", t)
		if !strings.Contains(strings.Join(errs, "\n"), c.want) {
			t.Errorf("replacing %q by %q: want an error containing %q, got %q", c.old, c.new, c.want, errs)
		}
	}
}

func TestComposePorts(t *testing.T) {
	var nodes []yaml.Node
	src := `["8080:8080", "127.0.0.1:8000:8000/udp", "1-2:3-4/tcp", {target: 5060, published: "5061", protocol: udp}]`
	if err := yaml.Unmarshal([]byte(src), &nodes); err != nil {
		t.Fatal(err)
	}
	got, err := composePorts(nodes)
	if err != nil {
		t.Fatal(err)
	}
	want := map[port]int{{8080, "tcp"}: 8080, {8000, "udp"}: 8000, {3, "tcp"}: 1, {4, "tcp"}: 2, {5060, "udp"}: 5061}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{`["8080"]`, `["1-3:1-2"]`, `["a:b"]`, `["8080:8080", "8081:8080"]`, `[[1]]`} {
		if err := yaml.Unmarshal([]byte(bad), &nodes); err != nil {
			t.Fatal(err)
		}
		if _, err := composePorts(nodes); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
