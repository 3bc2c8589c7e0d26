package deploy

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestManifestConfigsStart runs the real gateway with each config the
// manifests hand it (the image's, compose's gateways, the Kubernetes
// ConfigMap's as rendered for a pod), moved to free loopback ports and to a
// Mosquitto the test starts in place of EMQX: it must answer the readiness
// probe's GET /healthz with 200, and leave on SIGTERM (what Docker and
// Kubernetes send on stop) with status 0 before Kubernetes would kill it.
func TestManifestConfigsStart(t *testing.T) {
	configs := manifestConfigs(t)
	bin := buildGateway(t)
	broker := testpeer.Mosquitto(t)
	for _, g := range configs {
		t.Run(strings.ReplaceAll(g.where, "/", "_"), func(t *testing.T) {
			text, health := onLoopback(t, g, broker.URL())
			path := filepath.Join(t.TempDir(), "skyrelay.yml")
			if err := os.WriteFile(path, text, 0o600); err != nil {
				t.Fatal(err)
			}
			p := testpeer.Start(t, bin, "-config", path)
			// Stop waiting as soon as the gateway gives up.
			ctx, cancel := context.WithCancel(testpeer.Context(t, 60*time.Second))
			defer cancel()
			go func() {
				select {
				case <-p.Exited():
					cancel()
				case <-ctx.Done():
				}
			}()
			if err := testpeer.WaitHTTP(ctx, health, 200); err != nil {
				t.Fatalf("%v\nconfig:\n%s\ngateway output:\n%s", err, text, p.Output())
			}
			if err := p.Stop(); err != nil {
				t.Fatalf("on SIGTERM: %v\n%s", err, p.Output())
			}
		})
	}
}

// manifestConfigs gathers every config the manifests start a gateway with.
func manifestConfigs(t *testing.T) []gatewayConfig {
	t.Helper()
	var out []gatewayConfig
	b := readFile(t, "Dockerfile")
	var img dockerImage
	checkDockerfile(string(b), goDirective(t), func(i dockerImage) ([]gatewayConfig, error) { img = i; return nil, nil })
	ib, err := os.ReadFile("../" + img.configPath)
	if err != nil {
		t.Fatalf("the image's config: %v", err)
	}
	g, err := loadConfig(img.configPath, ib)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, g)

	cb, err := os.ReadFile("compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(cb, &cf); err != nil {
		t.Fatal(err)
	}
	for _, name := range sortedKeys(cf.Services) {
		s := cf.Services[name]
		if s.Build == nil {
			continue
		}
		g, err := composeConfig(name, s, ".")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, g)
	}

	objs, err := loadK8s(readK8sDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var cms []k8sObject
	var ws workloadSpec
	for _, o := range objs {
		switch o.Kind {
		case "ConfigMap":
			cms = append(cms, o)
		case "StatefulSet", "Deployment":
			if err := o.Spec.Decode(&ws); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range ws.Template.Spec.Containers {
		if c.Name == "skyrelay" {
			kg, errs := k8sConfig(ws.Template.Spec, c, cms)
			if kg == nil {
				t.Fatalf("k8s config: %v", errs)
			}
			kg.where = "k8s"
			out = append(out, *kg)
		}
	}
	if len(out) < 4 {
		t.Fatalf("found %d configs, want the image's, two compose gateways and the k8s one", len(out))
	}
	return out
}

// onLoopback rewrites a config (as conf parsed it) to run here: every port
// it opens on a free loopback port, media on one free port, public_host on
// 127.0.0.1, an external broker replaced by brokerURL. Returns the YAML and
// the /healthz URL.
func onLoopback(t *testing.T, g gatewayConfig, brokerURL string) ([]byte, string) {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal(g.parsed, &root); err != nil {
		t.Fatal(err)
	}
	if len(root.Content) == 0 {
		root = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	doc := root.Content[0]
	listens := map[string]string{}
	collectListenKeys(reflect.ValueOf(g.conf), "", listens)
	embedded := g.conf.MQTT.Broker == "embedded"
	health := ""
	rtp := freeUDPPair(t) // the RTSP server wants RTP even and RTCP next
	for key, value := range listens {
		if value == "" || (strings.HasPrefix(key, "mqtt.embedded.") && !embedded) {
			continue
		}
		var p int
		switch {
		case key == "rtsp.udp_rtp_listen":
			p = rtp
		case key == "rtsp.udp_rtcp_listen":
			p = rtp + 1
		case strings.Join(listenerProtocols[key], ",") == "udp":
			p = testpeer.FreeUDPPort(t)
		default:
			p = testpeer.FreePort(t)
		}
		v := fmt.Sprintf("127.0.0.1:%d", p)
		if strings.HasSuffix(key, "_ports") {
			v = fmt.Sprintf("%d-%d", p, p)
		}
		setKey(doc, key, v)
		if key == "http.listen" {
			health = fmt.Sprintf("http://127.0.0.1:%d/healthz", p)
		}
	}
	setKey(doc, "public_host", "127.0.0.1")
	setKey(doc, "webrtc.public_ips", "")
	if !embedded {
		setKey(doc, "mqtt.broker", brokerURL)
	}
	b, err := yaml.Marshal(&root)
	if err != nil {
		t.Fatal(err)
	}
	return b, health
}

// freeUDPPair finds an even UDP port p such that p and p+1 are both free.
func freeUDPPair(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		p := testpeer.FreeUDPPort(t) &^ 1
		a, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		b, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p+1))
		a.Close()
		if err != nil {
			continue
		}
		b.Close()
		return p
	}
	t.Fatal("no free pair of UDP ports")
	return 0
}

// setKey sets a dotted key of a mapping to a scalar ("" for webrtc's list
// sets an empty list), creating mappings on the way.
func setKey(n *yaml.Node, path, value string) {
	k, rest, nested := strings.Cut(path, ".")
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != k {
			continue
		}
		if nested {
			setKey(n.Content[i+1], rest, value)
		} else {
			n.Content[i+1] = scalarOrList(path, value)
		}
		return
	}
	child := &yaml.Node{Kind: yaml.MappingNode}
	if nested {
		setKey(child, rest, value)
	} else {
		child = scalarOrList(path, value)
	}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, child)
}

func scalarOrList(path, value string) *yaml.Node {
	if strings.HasSuffix(path, "public_ips") {
		return &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Value: value, Style: yaml.DoubleQuotedStyle}
}

// buildGateway builds cmd/skyrelay once for the test (the Go build cache
// makes it cheap after make test's own build).
func buildGateway(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(t.TempDir(), "skyrelay")
	cmd := exec.Command(gobin, "build", "-o", out, "./cmd/skyrelay")
	cmd.Dir = testpeer.Root()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/skyrelay: %v\n%s", err, b)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
