package deploy

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// A port name is an IANA service name: at most 15 characters, lower case
// letters, digits and inner single hyphens, at least one letter.
var portName = regexp.MustCompile(`^[a-z0-9]([a-z0-9]|-[a-z0-9])*$`)

// maxServicePorts: the EndpointSlice controller cannot serve a Service with
// more (kubernetes/kubernetes#99382).
const maxServicePorts = 100

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
