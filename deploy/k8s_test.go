package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// k8sObject is the part of a Kubernetes object the checks read.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       yaml.Node         `yaml:"spec"`
	Resources  []string          `yaml:"resources"` // kustomization
	file       string
}

type serviceSpec struct {
	ClusterIP string            `yaml:"clusterIP"`
	Type      string            `yaml:"type"`
	Selector  map[string]string `yaml:"selector"`
	Ports     []struct {
		Name       string    `yaml:"name"`
		Port       int       `yaml:"port"`
		TargetPort yaml.Node `yaml:"targetPort"`
		Protocol   string    `yaml:"protocol"`
	} `yaml:"ports"`
}

type workloadSpec struct {
	ServiceName string `yaml:"serviceName"`
	Replicas    *int   `yaml:"replicas"`
	Selector    struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	Template struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec podSpec `yaml:"spec"`
	} `yaml:"template"`
}

type podSpec struct {
	HostNetwork     bool   `yaml:"hostNetwork"`
	DNSPolicy       string `yaml:"dnsPolicy"`
	SecurityContext struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
	} `yaml:"securityContext"`
	InitContainers []container `yaml:"initContainers"`
	Containers     []container `yaml:"containers"`
	Volumes        []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
	} `yaml:"volumes"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name      string `yaml:"name"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
		Protocol      string `yaml:"protocol"`
	} `yaml:"ports"`
	ReadinessProbe *struct {
		HTTPGet *struct {
			Path string    `yaml:"path"`
			Port yaml.Node `yaml:"port"`
		} `yaml:"httpGet"`
	} `yaml:"readinessProbe"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

// loadK8s reads every document of every YAML file of a directory.
func loadK8s(files map[string][]byte) ([]k8sObject, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []k8sObject
	for _, n := range names {
		dec := yaml.NewDecoder(bytes.NewReader(files[n]))
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			if o.Kind == "" || o.APIVersion == "" {
				return nil, fmt.Errorf("%s: a document without kind or apiVersion", n)
			}
			o.file = n
			out = append(out, o)
		}
	}
	return out, nil
}

func readK8sDir(t *testing.T) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests in deploy/k8s: %v", err)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = b
	}
	return files
}

// A port name is an IANA service name: at most 15 characters, lower case
// letters, digits and inner single hyphens, at least one letter.
var portName = regexp.MustCompile(`^[a-z0-9]([a-z0-9]|-[a-z0-9])*$`)

// maxServicePorts: the EndpointSlice controller cannot serve a Service with
// more (kubernetes/kubernetes#99382).
const maxServicePorts = 100

// placeholder is a __NAME__ the init container fills in.
var placeholder = regexp.MustCompile(`__[A-Z_]+__`)

// placeholderSamples are what the test puts where the init container
// would put the pod name and the node address.
var placeholderSamples = map[string]string{"__NODE_ID__": "skyrelay-0", "__PUBLIC_HOST__": "192.0.2.10"}

// checkK8s checks the Kubernetes manifests as one set: a workload whose
// config (from a ConfigMap, rendered per pod) conf loads with the cluster
// on; its secrets from a Secret under names conf reads; readiness on
// /healthz at the config's HTTP port; and Services that declare exactly the
// ports the config opens, each within Kubernetes' limits.
func checkK8s(files map[string][]byte, t *testing.T) []string {
	var errs []string
	bad := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
	objs, err := loadK8s(files)
	if err != nil {
		return []string{err.Error()}
	}
	byKind := map[string][]k8sObject{}
	for _, o := range objs {
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	// kubectl apply -k deploy/k8s must take every file.
	if ks := byKind["Kustomization"]; len(ks) != 1 {
		bad("want one kustomization.yaml")
	} else {
		listed := map[string]bool{ks[0].file: true}
		for _, r := range ks[0].Resources {
			listed[r] = true
			if _, ok := files[r]; !ok {
				bad("kustomization lists %s, which does not exist", r)
			}
		}
		for f := range files {
			if !listed[f] {
				bad("kustomization does not list %s", f)
			}
		}
	}
	workloads := append(byKind["StatefulSet"], byKind["Deployment"]...)
	if len(workloads) != 1 {
		return append(errs, fmt.Sprintf("want one StatefulSet or Deployment, have %d", len(workloads)))
	}
	w := workloads[0]
	var ws workloadSpec
	if err := w.Spec.Decode(&ws); err != nil {
		return append(errs, fmt.Sprintf("%s %s: %v", w.Kind, w.Metadata.Name, err))
	}
	pod := ws.Template.Spec
	if !subset(ws.Selector.MatchLabels, ws.Template.Metadata.Labels) || len(ws.Selector.MatchLabels) == 0 {
		bad("%s: selector does not match the pod template's labels", w.Metadata.Name)
	}
	if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		bad("%s: pod securityContext.runAsNonRoot is not true", w.Metadata.Name)
	}
	if pod.HostNetwork && pod.DNSPolicy != "ClusterFirstWithHostNet" {
		bad("%s: hostNetwork without dnsPolicy ClusterFirstWithHostNet: the broker's Service name would not resolve", w.Metadata.Name)
	}
	var main *container
	for i := range pod.Containers {
		if pod.Containers[i].Name == "skyrelay" {
			main = &pod.Containers[i]
		}
	}
	if main == nil {
		return append(errs, "no container named skyrelay")
	}

	// The config: -config points into a volume that an init container fills
	// from the ConfigMap, replacing every placeholder.
	g, cfgErrs := k8sConfig(pod, *main, byKind["ConfigMap"])
	errs = append(errs, cfgErrs...)
	if g == nil {
		return errs
	}
	if g.rawValue("cluster.enabled") != true {
		bad("config: cluster.enabled is not true")
	}
	if g.conf.MQTT.Broker == "embedded" {
		bad("config: mqtt.broker is embedded: a cluster shares an external broker")
	}
	if id, _ := g.rawValue("cluster.node_id").(string); id != placeholderSamples["__NODE_ID__"] {
		bad("config: cluster.node_id %q is not the pod's name", id)
	}
	if g.conf.MQTT.ClientID != placeholderSamples["__NODE_ID__"] {
		bad("config: mqtt.client_id %q is not the pod's name: the pods would take each other's MQTT session", g.conf.MQTT.ClientID)
	}
	opened, err := openedPorts(*g)
	if err != nil {
		return append(errs, err.Error())
	}

	// Secrets.
	secrets := map[string]map[string]bool{}
	for _, s := range byKind["Secret"] {
		keys := map[string]bool{}
		for k := range s.Data {
			keys[k] = true
		}
		for k := range s.StringData {
			keys[k] = true
		}
		secrets[s.Metadata.Name] = keys
	}
	fromSecret := false
	for _, e := range main.Env {
		if strings.HasPrefix(e.Name, "SKYRELAY_") && !confReadsEnv(t, e.Name) {
			bad("env %s: conf reads no such variable", e.Name)
		}
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			if strings.Contains(e.Name, "PASSWORD") || strings.Contains(e.Name, "TOKEN") {
				bad("env %s: a secret must come from a Secret", e.Name)
			}
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if !secrets[ref.Name][ref.Key] {
			bad("env %s: Secret %s has no key %s", e.Name, ref.Name, ref.Key)
		}
		if e.Name == "SKYRELAY_MQTT_PASSWORD" {
			fromSecret = true
		}
	}
	if !fromSecret {
		bad("SKYRELAY_MQTT_PASSWORD does not come from a Secret")
	}

	// Readiness on /healthz at the HTTP port.
	httpPort := opened.portOf("http.listen")
	if p := main.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
		bad("readinessProbe: want httpGet /healthz")
	} else if n := probePort(p.HTTPGet.Port, *main); n != httpPort {
		bad("readinessProbe port %s is not http.listen's port %d", p.HTTPGet.Port.Value, httpPort)
	}
	for _, cp := range main.Ports {
		proto := strings.ToLower(cp.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		if _, ok := opened[port{cp.ContainerPort, proto}]; !ok {
			bad("containerPort %s %d/%s: the config opens no such port", cp.Name, cp.ContainerPort, proto)
		}
	}

	// Services.
	declared := portSet{}
	headless := map[string]bool{}
	for _, s := range byKind["Service"] {
		var ss serviceSpec
		if err := s.Spec.Decode(&ss); err != nil {
			bad("Service %s: %v", s.Metadata.Name, err)
			continue
		}
		if ss.ClusterIP == "None" {
			headless[s.Metadata.Name] = true
		}
		if len(ss.Selector) == 0 || !subset(ss.Selector, ws.Template.Metadata.Labels) {
			bad("Service %s: selector %v does not select the pods", s.Metadata.Name, ss.Selector)
		}
		if len(ss.Ports) > maxServicePorts {
			bad("Service %s: %d ports, more than the %d an EndpointSlice holds", s.Metadata.Name, len(ss.Ports), maxServicePorts)
		}
		names := map[string]bool{}
		own := portSet{}
		for _, p := range ss.Ports {
			if len(p.Name) > 15 || !portName.MatchString(p.Name) || !strings.ContainsAny(p.Name, "abcdefghijklmnopqrstuvwxyz") {
				bad("Service %s: port name %q is not a valid IANA service name", s.Metadata.Name, p.Name)
			}
			if names[p.Name] {
				bad("Service %s: port name %q twice", s.Metadata.Name, p.Name)
			}
			names[p.Name] = true
			if !p.TargetPort.IsZero() && p.TargetPort.Value != fmt.Sprint(p.Port) {
				bad("Service %s: port %s maps %d to %s: the port a node advertises is the one it listens on", s.Metadata.Name, p.Name, p.Port, p.TargetPort.Value)
			}
			proto := strings.ToLower(p.Protocol)
			if proto == "" {
				proto = "tcp"
			}
			own.add(p.Port, proto, "Service "+s.Metadata.Name)
			declared.add(p.Port, proto, "Service "+s.Metadata.Name)
		}
		// A load balancer on the media path must carry every port itself.
		if ss.Type == "LoadBalancer" {
			if m := opened.missingFrom(own); m != "" {
				bad("Service %s (LoadBalancer) lacks %s", s.Metadata.Name, m)
			}
		}
	}
	for _, pdb := range byKind["PodDisruptionBudget"] {
		var ps struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
		}
		if err := pdb.Spec.Decode(&ps); err != nil || len(ps.Selector.MatchLabels) == 0 ||
			!subset(ps.Selector.MatchLabels, ws.Template.Metadata.Labels) {
			bad("PodDisruptionBudget %s does not select the pods (%v)", pdb.Metadata.Name, err)
		}
	}
	if w.Kind == "StatefulSet" && !headless[ws.ServiceName] {
		bad("StatefulSet serviceName %q is not a headless Service here", ws.ServiceName)
	}
	if m := opened.missingFrom(declared); m != "" {
		bad("the Services lack %s", m)
	}
	if m := declared.missingFrom(opened); m != "" {
		bad("the Services declare ports the config does not open: %s", m)
	}
	return errs
}

// k8sConfig follows the main container's -config to the volume it lives in,
// the init container that writes it, and the ConfigMap that init container
// reads; fills the placeholders as the init container would; loads it.
func k8sConfig(pod podSpec, main container, configMaps []k8sObject) (*gatewayConfig, []string) {
	argv := append(append([]string{}, main.Command...), main.Args...)
	cfg := ""
	for i := range argv {
		if argv[i] == "-config" && i+1 < len(argv) {
			cfg = argv[i+1]
		}
	}
	if cfg == "" {
		return nil, []string{"container skyrelay: no -config argument"}
	}
	vol := mountedAt(main, path.Dir(cfg))
	if vol == "" {
		return nil, []string{fmt.Sprintf("container skyrelay: nothing mounted at %s", path.Dir(cfg))}
	}
	cmVolumes := map[string]string{} // volume -> ConfigMap
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil {
			cmVolumes[v.Name] = v.ConfigMap.Name
		}
	}
	var text, script string
	if cm, ok := cmVolumes[vol]; ok {
		text = configMapData(configMaps, cm, path.Base(cfg)) // mounted as it is
	} else {
		for _, ic := range pod.InitContainers {
			out := mountedPath(ic, vol)
			sh := strings.Join(append(append([]string{}, ic.Command...), ic.Args...), " ")
			if out == "" || !strings.Contains(sh, "> "+path.Join(out, path.Base(cfg))) {
				continue
			}
			for _, m := range ic.VolumeMounts {
				if cm, ok := cmVolumes[m.Name]; ok && strings.Contains(sh, m.MountPath+"/") {
					key := strings.Fields(strings.SplitN(sh, m.MountPath+"/", 2)[1])[0]
					text, script = configMapData(configMaps, cm, key), sh
				}
			}
		}
	}
	if text == "" {
		return nil, []string{fmt.Sprintf("no ConfigMap provides %s (directly or through an init container)", cfg)}
	}
	var errs []string
	for _, ph := range placeholder.FindAllString(text, -1) {
		if !strings.Contains(script, ph) {
			errs = append(errs, fmt.Sprintf("config placeholder %s: nothing fills it in", ph))
		}
		sample, ok := placeholderSamples[ph]
		if !ok {
			errs = append(errs, fmt.Sprintf("config placeholder %s: the test has no sample value for it", ph))
		}
		text = strings.ReplaceAll(text, ph, sample)
	}
	g, err := loadConfig("k8s ConfigMap", []byte(text))
	if err != nil {
		return nil, append(errs, err.Error())
	}
	return &g, errs
}

func configMapData(cms []k8sObject, name, key string) string {
	for _, cm := range cms {
		if cm.Metadata.Name == name {
			return cm.Data[key]
		}
	}
	return ""
}

func mountedAt(c container, dir string) string {
	for _, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) == path.Clean(dir) {
			return m.Name
		}
	}
	return ""
}

func mountedPath(c container, volume string) string {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	return ""
}

// probePort resolves a probe's port: a number, or a container port's name.
func probePort(n yaml.Node, c container) int {
	for _, p := range c.Ports {
		if p.Name == n.Value {
			return p.ContainerPort
		}
	}
	var v int
	if _, err := fmt.Sscan(n.Value, &v); err != nil {
		return -1
	}
	return v
}

// portOf is the (first) port a key opens.
func (s portSet) portOf(key string) int {
	best := -1
	for p, by := range s {
		if by == key && (best < 0 || p.num < best) {
			best = p.num
		}
	}
	return best
}

func subset(a, b map[string]string) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestKubernetes(t *testing.T) {
	for _, e := range checkK8s(readK8sDir(t), t) {
		t.Error("k8s: " + e)
	}
}

// TestKubernetesChecks breaks one manifest one way at a time.
func TestKubernetesChecks(t *testing.T) {
	orig := readK8sDir(t)
	for _, c := range []struct{ file, old, new, want string }{
		{"service.yaml", "    - {name: rtsp-rtp, port: 8000, protocol: UDP}\n", "", "the Services lack 8000/udp (rtsp.udp_rtp_listen)"},
		{"service.yaml", "    - {name: gb-udp-30099, port: 30099, protocol: UDP}\n", "", "lack 30099/udp (gb28181.media_ports)"},
		{"service.yaml", "{name: http, port: 8080, protocol: TCP}", "{name: http, port: 8080, protocol: TCP}\n    - {name: x, port: 9, protocol: TCP}", "does not open: 9/tcp"},
		{"service.yaml", "name: webrtc-udp,", "name: WebRTC_udp,", "not a valid IANA service name"},
		{"service.yaml", "{name: rtmp, port: 1935, protocol: TCP}", "{name: rtmp, port: 1935, targetPort: 1936, protocol: TCP}", "maps 1935 to 1936"},
		{"service.yaml", "    - {name: gb-tcp-30000, port: 30000, protocol: TCP}\n",
			"    - {name: gb-tcp-30000, port: 30000, protocol: TCP}\n    - {name: gb-tcp-extra, port: 30000, protocol: UDP}\n", "101 ports"},
		{"statefulset.yaml", "path: /healthz\n              port: 8080\n            periodSeconds: 5", "path: /healthz\n              port: 8081\n            periodSeconds: 5", "readinessProbe port 8081"},
		{"statefulset.yaml", "path: /healthz\n              port: 8080\n            periodSeconds: 5", "path: /health\n              port: 8080\n            periodSeconds: 5", "want httpGet /healthz"},
		{"statefulset.yaml", "key: mqtt-password", "key: mqtt-pasword", "Secret skyrelay-secrets has no key mqtt-pasword"},
		{"statefulset.yaml", "- name: SKYRELAY_API_TOKEN", "- name: SKYRELAY_TOKEN", "SKYRELAY_TOKEN: conf reads no such variable"},
		{"statefulset.yaml", "-e \"s/__PUBLIC_HOST__/$PUBLIC_HOST/g\" ", "", "__PUBLIC_HOST__: nothing fills it in"},
		{"statefulset.yaml", "dnsPolicy: ClusterFirstWithHostNet", "dnsPolicy: ClusterFirst", "ClusterFirstWithHostNet"},
		{"statefulset.yaml", "runAsNonRoot: true", "runAsNonRoot: false", "runAsNonRoot"},
		{"statefulset.yaml", "serviceName: skyrelay", "serviceName: skyrelay-gb-media-x", "not a headless Service"},
		{"statefulset.yaml", "{name: sip-tcp, containerPort: 5060, protocol: TCP}", "{name: sip-tcp, containerPort: 5061, protocol: TCP}", "containerPort sip-tcp 5061/tcp"},
		{"configmap.yaml", "      enabled: true", "      enabled: false", "cluster.enabled is not true"},
		{"configmap.yaml", "client_id: __NODE_ID__", "client_id: skyrelay", "not the pod's name"},
		{"configmap.yaml", "udp_rtp_listen: \":8000\"\n      udp_rtcp_listen: \":8001\"", "udp_rtp_listen: \":8002\"\n      udp_rtcp_listen: \":8003\"", "lack 8002/udp (rtsp.udp_rtp_listen), 8003/udp"},
		{"configmap.yaml", "    rtmp:\n", "    rtmp:\n      lisen: \":1\"\n", "rtmp.lisen: unknown key"},
		{"kustomization.yaml", "  - secret.yaml\n", "", "does not list secret.yaml"},
		{"pdb.yaml", "      app.kubernetes.io/name: skyrelay", "      app.kubernetes.io/name: other", "PodDisruptionBudget skyrelay does not select"},
	} {
		files := map[string][]byte{}
		for k, v := range orig {
			files[k] = v
		}
		broken := strings.Replace(string(orig[c.file]), c.old, c.new, 1)
		if broken == string(orig[c.file]) {
			t.Errorf("mutation %q of %s not applied: the manifest changed, update this test", c.old, c.file)
			continue
		}
		files[c.file] = []byte(broken)
		errs := checkK8s(files, t)
		if !strings.Contains(strings.Join(errs, "\n"), c.want) {
			t.Errorf("%s: replacing %q by %q: want an error containing %q, got %q", c.file, c.old, c.new, c.want, errs)
		}
	}
}
