package deploy

import (
	"fmt"
	"net"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// listenerProtocols names every config key that opens ports and the
// transports it opens them on. A key conf gains that ends in "listen" or
// "_ports" and is missing here fails the tests: deploy/ must learn about a
// new listener before the manifests can be trusted to declare it.
var listenerProtocols = map[string][]string{
	"http.listen":              {"tcp"},
	"http.tls_listen":          {"tcp"},
	"rtmp.listen":              {"tcp"},
	"rtmp.tls_listen":          {"tcp"},
	"rtsp.listen":              {"tcp"},
	"rtsp.tls_listen":          {"tcp"},
	"rtsp.udp_rtp_listen":      {"udp"},
	"rtsp.udp_rtcp_listen":     {"udp"},
	"webrtc.listen":            {"udp", "tcp"}, // one UDP port, and ICE-TCP
	"gb28181.sip_listen":       {"udp", "tcp"},
	"gb28181.media_ports":      {"udp", "tcp"},
	"mqtt.embedded.listen":     {"tcp"},
	"mqtt.embedded.ws_listen":  {"tcp"},
	"mqtt.embedded.tls_listen": {"tcp"},
}

// port is one port number on one transport ("tcp" or "udp").
type port struct {
	num   int
	proto string
}

func (p port) String() string { return fmt.Sprintf("%d/%s", p.num, p.proto) }

// portSet maps each port to what declares or opens it, for messages.
type portSet map[port]string

func (s portSet) add(num int, proto, by string) { s[port{num, proto}] = by }

// missingFrom lists the ports of s that other lacks, sorted, ranges folded.
func (s portSet) missingFrom(other portSet) string {
	var miss []port
	for p := range s {
		if _, ok := other[p]; !ok {
			miss = append(miss, p)
		}
	}
	return foldPorts(miss, s)
}

// foldPorts prints ports as "8000/udp (rtsp.udp_rtp_listen), 30000-30099/tcp (...)".
func foldPorts(ps []port, by portSet) string {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].proto != ps[j].proto {
			return ps[i].proto < ps[j].proto
		}
		return ps[i].num < ps[j].num
	})
	var out []string
	for i := 0; i < len(ps); {
		j := i
		for j+1 < len(ps) && ps[j+1].proto == ps[i].proto && ps[j+1].num == ps[j].num+1 && by[ps[j+1]] == by[ps[i]] {
			j++
		}
		s := ps[i].String()
		if j > i {
			s = fmt.Sprintf("%d-%d/%s", ps[i].num, ps[j].num, ps[i].proto)
		}
		out = append(out, fmt.Sprintf("%s (%s)", s, by[ps[i]]))
		i = j + 1
	}
	return strings.Join(out, ", ")
}

// openedPorts derives from a config every port the gateway opens: each
// listen key conf has (found by reflection, defaults included) and each
// pending listen key, on the transports listenerProtocols gives it.
func openedPorts(g gatewayConfig) (portSet, error) {
	keys := map[string]string{}
	collectListenKeys(reflect.ValueOf(g.conf), "", keys)
	for k, v := range g.pending {
		if isListenKey(k) {
			keys[k] = v
		}
	}
	out := portSet{}
	embedded := g.conf.MQTT.Broker == "embedded"
	for key, value := range keys {
		protos, ok := listenerProtocols[key]
		if !ok {
			return nil, fmt.Errorf("config key %s opens ports but deploy/ports_test.go does not know it: add it to listenerProtocols and declare its ports in every manifest", key)
		}
		if value == "" || (strings.HasPrefix(key, "mqtt.embedded.") && !embedded) {
			continue // off; the embedded broker runs only with mqtt.broker: embedded
		}
		lo, hi, err := listenPorts(key, value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.where, err)
		}
		for n := lo; n <= hi; n++ {
			for _, p := range protos {
				if prev, dup := out[port{n, p}]; dup {
					return nil, fmt.Errorf("%s: %s and %s both open %d/%s", g.where, prev, key, n, p)
				}
				out.add(n, p, key)
			}
		}
	}
	// The RTSP server refuses to start otherwise (ingest/rtsp); conf does
	// not check it, so a manifest could carry it unnoticed until start-up.
	rtp, rtcp := out.portOf("rtsp.udp_rtp_listen"), out.portOf("rtsp.udp_rtcp_listen")
	if rtp >= 0 && (rtp%2 != 0 || rtcp != rtp+1) {
		return nil, fmt.Errorf("%s: rtsp.udp_rtp_listen (%d) must be even and rtsp.udp_rtcp_listen (%d) the next port", g.where, rtp, rtcp)
	}
	return out, nil
}

func isListenKey(key string) bool {
	last := key[strings.LastIndex(key, ".")+1:]
	return strings.HasSuffix(last, "listen") || strings.HasSuffix(last, "_ports")
}

// collectListenKeys walks a conf struct value for string fields whose key
// ends in "listen" or "_ports"; lists (users, upstreams) open no port.
func collectListenKeys(v reflect.Value, path string, out map[string]string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := yamlKey(f)
		if key == "" || key == "-" {
			continue
		}
		p := joinKey(path, key)
		switch fv := v.Field(i); fv.Kind() {
		case reflect.Struct:
			collectListenKeys(fv, p, out)
		case reflect.String:
			if isListenKey(p) {
				out[p] = fv.String()
			}
		}
	}
}

// listenPorts reads a listen address (":8080", "0.0.0.0:8080") or a port
// range ("30000-30499").
func listenPorts(key, value string) (int, int, error) {
	if strings.HasSuffix(key, "_ports") {
		a, b, ok := strings.Cut(value, "-")
		lo, err1 := strconv.Atoi(a)
		hi, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
			return 0, 0, fmt.Errorf("%s: %q is not a port range", key, value)
		}
		return lo, hi, nil
	}
	_, ps, err := net.SplitHostPort(value)
	n, err2 := strconv.Atoi(ps)
	if err != nil || err2 != nil || n < 1 || n > 65535 {
		return 0, 0, fmt.Errorf("%s: %q has no fixed port (a manifest must know it)", key, value)
	}
	return n, n, nil
}

// parsePortSpec reads "8080", "8080/tcp", "30000-30099/udp" (EXPOSE and
// compose's container side): the range and the protocol, tcp by default.
func parsePortSpec(s string) (lo, hi int, proto string, err error) {
	spec, proto, hasProto := strings.Cut(s, "/")
	if !hasProto {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return 0, 0, "", fmt.Errorf("port %q: unknown protocol %q", s, proto)
	}
	a, b, isRange := strings.Cut(spec, "-")
	if !isRange {
		b = a
	}
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, "", fmt.Errorf("port %q is not a port or a range", s)
	}
	return lo, hi, proto, nil
}

func reflectValue(g gatewayConfig) reflect.Value { return reflect.ValueOf(g.conf) }

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
