package conf

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/skyrelay/skyrelay/gb28181/gbid"
)

// Validate checks values the YAML types cannot: addresses, ranges, enums.
func (c *Config) Validate() error {
	var errs []string
	bad := func(key, format string, a ...any) { errs = append(errs, key+": "+fmt.Sprintf(format, a...)) }

	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "must be debug, info, warn or error, not %q", c.LogLevel)
	}
	for key, addr := range map[string]string{
		"http.listen": c.HTTP.Listen, "rtmp.listen": c.RTMP.Listen, "rtsp.listen": c.RTSP.Listen,
		"rtsp.udp_rtp_listen": c.RTSP.UDPRTPListen, "rtsp.udp_rtcp_listen": c.RTSP.UDPRTCPListen,
		"webrtc.listen": c.WebRTC.Listen, "gb28181.sip_listen": c.GB28181.SIPListen,
	} {
		if err := checkListen(addr); err != nil {
			bad(key, "%v", err)
		}
	}
	c.validateTLS(bad)
	c.Auth.validate(bad)
	c.MQTT.validate(bad)
	c.Cluster.validate(c.MQTT, bad)
	for i, ip := range c.WebRTC.PublicIPs {
		if net.ParseIP(ip) == nil {
			bad(fmt.Sprintf("webrtc.public_ips[%d]", i), "%q is not an IP address", ip)
		}
	}
	if c.HLS.SegmentCount < 7 {
		bad("hls.segment_count", "must be at least 7 for low-latency HLS")
	}
	if c.HLS.SegmentDuration <= 0 || c.HLS.PartDuration <= 0 || c.HLS.PartDuration > c.HLS.SegmentDuration {
		bad("hls.part_duration", "must be > 0 and at most hls.segment_duration")
	}
	if c.Streams.ReconnectGrace < 0 {
		bad("streams.reconnect_grace", "must not be negative")
	}
	if q := c.Streams.ReaderQueue; q < 16 || q > 1<<16 {
		bad("streams.reader_queue", "must be between 16 and 65536")
	}
	if c.Control.OfflineAfter <= 0 {
		bad("control.offline_after", "must be > 0")
	}
	if c.Control.ReplyTimeout <= 0 {
		bad("control.reply_timeout", "must be > 0")
	}
	if c.Control.ReadyTimeout <= 0 {
		bad("control.ready_timeout", "must be > 0")
	}
	if c.Control.StartRetryBackoff <= 0 {
		bad("control.start_retry_backoff", "must be > 0")
	}
	if p := c.Control.NTPServerPort; p < 1 || p > 65535 {
		bad("control.ntp_server_port", "must be a port number")
	}
	if c.Control.IdleStopAfter < 0 {
		bad("control.idle_stop_after", "must not be negative (0s = never)")
	}
	switch c.Control.DefaultProtocol {
	case "rtmp", "rtsp", "gb28181", "whip":
	default:
		bad("control.default_protocol", "must be rtmp, rtsp, gb28181 or whip, not %q", c.Control.DefaultProtocol)
	}
	if c.RTSP.PullTransport != "tcp" && c.RTSP.PullTransport != "udp" {
		bad("rtsp.pull_transport", "must be tcp or udp, not %q", c.RTSP.PullTransport)
	}
	if p := c.Control.RTSPDevicePort; p < 1 || p > 65535 {
		bad("control.rtsp_device_port", "must be a port number")
	}
	if c.Control.StartRetries < 0 || c.Control.StartRetries > 10 {
		bad("control.start_retries", "must be between 0 and 10")
	}
	if !gbid.Digits(c.GB28181.Domain, 10) {
		bad("gb28181.domain", "must be 10 digits, not %q", c.GB28181.Domain)
	}
	if !gbid.Digits(c.GB28181.ServerID, 20) {
		bad("gb28181.server_id", "must be 20 digits, not %q", c.GB28181.ServerID)
	}
	if _, _, err := c.GB28181.PortRange(); err != nil {
		bad("gb28181.media_ports", "%v", err)
	}
	errs = append(errs, c.GB28181.validateUpstreams()...)
	c.Record.validate(bad)
	if len(errs) > 0 {
		return fmt.Errorf("config: %s", errs[0])
	}
	return nil
}

// validate checks the mqtt: section: an embedded broker needs a listener
// and well-formed device accounts; an external one a URL, which is named
// without its password.
func (m MQTT) validate(bad func(key, format string, a ...any)) {
	if m.Broker != "embedded" {
		u, err := url.Parse(m.Broker)
		if err != nil || u.Host == "" || !strings.Contains(" tcp mqtt ssl tls ws wss ", " "+u.Scheme+" ") {
			bad("mqtt.broker", "must be \"embedded\" or a tcp://, tls://, ws:// or wss:// URL, not %q", RedactURL(m.Broker))
		}
		return
	}
	e := m.Embedded
	if e.Listen == "" && e.WSListen == "" && e.TLSListen == "" {
		bad("mqtt.embedded.listen", "the embedded broker needs listen, ws_listen or tls_listen")
	}
	for key, addr := range map[string]string{"mqtt.embedded.listen": e.Listen, "mqtt.embedded.ws_listen": e.WSListen} {
		if addr == "" {
			continue // empty disables that listener
		}
		if err := checkListen(addr); err != nil {
			bad(key, "%v", err)
		}
	}
	seen := map[string]bool{}
	for i, u := range e.Users {
		key := fmt.Sprintf("mqtt.embedded.users[%d]", i)
		switch {
		case u.User == "":
			bad(key+".user", "must not be empty")
		case seen[u.User]:
			bad(key+".user", "%q appears twice", u.User)
		case u.Password == "":
			bad(key+".password", "must not be empty")
		case strings.HasPrefix(u.User, "pilot-"):
			bad(key+".user", "%q: names starting with pilot- are minted by the API", u.User)
		}
		seen[u.User] = true
		for j, g := range u.Gateways {
			if _, err := path.Match(g, ""); g == "" || strings.ContainsAny(g, "/+#") || err != nil {
				bad(fmt.Sprintf("%s.gateways[%d]", key, j), "%q is not a device SN, an SN glob or *", g)
			}
		}
	}
}

// PortRange parses media_ports ("30000-30499").
func (g GB28181) PortRange() (int, int, error) {
	a, b, ok := strings.Cut(g.MediaPorts, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("must be a port range like 30000-30499, not %q", g.MediaPorts)
	}
	return lo, hi, nil
}

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		return fmt.Errorf("%q: host must be an IP address or empty", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q: bad port", addr)
	}
	return nil
}

// validate checks the cluster: section: the nodes meet on an external
// broker, so an embedded one cannot carry a cluster.
func (k Cluster) validate(m MQTT, bad func(key, format string, a ...any)) {
	if k.Enabled && m.Broker == "embedded" {
		bad("cluster.enabled", "needs an external broker in mqtt.broker (the nodes meet there), not the embedded one")
	}
	if strings.ContainsAny(k.NodeID, "/+#") {
		bad("cluster.node_id", "must not contain /, + or # (it is an MQTT topic level), not %q", k.NodeID)
	}
	if k.Advertise != "" {
		u, err := url.Parse(k.Advertise)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			bad("cluster.advertise", "must be an http:// or https:// base URL, not %q", k.Advertise)
		}
	}
}
