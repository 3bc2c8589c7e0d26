// Package conf loads Skyrelay's YAML configuration: every key has a default,
// so an empty file is valid; an unknown key, a wrong type or an impossible
// value is refused with one line naming the key by its dotted path.
package conf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration, and its only definition: the packages
// that need a section take it from here. The yaml tags are the keys
// documented in docs/configuration.md.
type Config struct {
	LogLevel   string `yaml:"log_level"`
	PublicHost string `yaml:"public_host"`

	TLS     TLS     `yaml:"tls"`
	HTTP    HTTP    `yaml:"http"`
	RTMP    RTMP    `yaml:"rtmp"`
	RTSP    RTSP    `yaml:"rtsp"`
	WebRTC  WebRTC  `yaml:"webrtc"`
	HLS     HLS     `yaml:"hls"`
	Streams Streams `yaml:"streams"`
	Auth    Auth    `yaml:"auth"`
	MQTT    MQTT    `yaml:"mqtt"`
	Control Control `yaml:"control"`
	GB28181 GB28181 `yaml:"gb28181"`
	Record  Record  `yaml:"record"`
	Console Console `yaml:"console"` // conf/pages.go
	Pilot   Pilot   `yaml:"pilot"`   // conf/pages.go
	Cluster Cluster `yaml:"cluster"`
}

// Cluster makes several gateways one through the external broker they
// share (docs/cluster.md).
type Cluster struct {
	// Enabled needs mqtt.broker to be an external broker.
	Enabled bool `yaml:"enabled"`
	// NodeID names this node in the directory and must differ between
	// nodes; empty is the host name.
	NodeID string `yaml:"node_id"`
	// Advertise is the http:// base URL other nodes and viewers use to
	// reach this node; empty is http://public_host:port-of-http.listen.
	Advertise string `yaml:"advertise"`
}

// TLS is the one certificate and key every TLS listener serves
// (http.tls_listen, rtmp.tls_listen, rtsp.tls_listen,
// mqtt.embedded.tls_listen); reloaded when the files change.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// HTTP is the API, WHEP/WHIP, HLS, pages, metrics listener.
type HTTP struct {
	Listen string `yaml:"listen"`
	// TLSListen is the same over HTTPS ("" off).
	TLSListen   string   `yaml:"tls_listen"`
	CORSOrigins []string `yaml:"cors_origins"` // empty: any origin
}

// RTMP is the RTMP listener.
type RTMP struct {
	Listen    string `yaml:"listen"`
	TLSListen string `yaml:"tls_listen"` // RTMPS ("" off)
}

// RTSP is the RTSP listener and its UDP ports.
type RTSP struct {
	Listen string `yaml:"listen"`
	// TLSListen is RTSPS, TCP only ("" off).
	TLSListen     string `yaml:"tls_listen"`
	UDPRTPListen  string `yaml:"udp_rtp_listen"`
	UDPRTCPListen string `yaml:"udp_rtcp_listen"`
	// PullTransport is how streams a remote controller serves (url_type 2)
	// are pulled: tcp (interleaved, through any NAT) or udp.
	PullTransport string `yaml:"pull_transport"`
}

// WebRTC is the one UDP and one TCP port every peer shares.
type WebRTC struct {
	Listen    string   `yaml:"listen"`
	PublicIPs []string `yaml:"public_ips"`
}

// HLS tunes the LL-HLS muxers.
type HLS struct {
	SegmentCount    int           `yaml:"segment_count"`
	SegmentDuration time.Duration `yaml:"segment_duration"`
	PartDuration    time.Duration `yaml:"part_duration"`
	CloseAfter      time.Duration `yaml:"close_after"`
}

// Streams tunes the stream core.
type Streams struct {
	// ReconnectGrace is how long readers stay attached to a path whose
	// publisher dropped, waiting for it to come back.
	ReconnectGrace time.Duration `yaml:"reconnect_grace"`
	// ReaderQueue is how many frames a reader may fall behind.
	ReaderQueue int `yaml:"reader_queue"`
}

// Auth holds static credentials; per-push secrets are minted at run time.
type Auth struct {
	// Publishers may publish from anywhere with these credentials.
	Publishers []Credential `yaml:"publishers"`
	// ReadPassword, when set, is required from non-loopback readers.
	ReadUser     string `yaml:"read_user"`
	ReadPassword Secret `yaml:"read_password"`
	// APIToken, when set, lets non-loopback clients use /api/ with
	// "Authorization: Bearer TOKEN"; empty keeps the API to loopback.
	APIToken Secret `yaml:"api_token"`
	// JWT and Hook authorize readers (and publishers and API clients
	// beyond the rules above) per request; docs/security.md.
	JWT  JWT  `yaml:"jwt"`
	Hook Hook `yaml:"hook"`
	// LoopbackTrusted lets loopback read without a token when JWT or Hook
	// is on; false when a reverse proxy on this host forwards viewers.
	LoopbackTrusted bool `yaml:"loopback_trusted"`
}

// JWT verifies JSON Web Tokens: HS256 with Secret, RS256/ES256 with the
// keys at JWKSURL.
type JWT struct {
	Secret   Secret `yaml:"secret"`
	JWKSURL  string `yaml:"jwks_url"`
	Audience string `yaml:"audience"`
	Issuer   string `yaml:"issuer"`
	// Claim holds the permissions (default skyrelay_permissions).
	Claim string `yaml:"claim"`
}

// Hook is an external HTTP service asked about each request.
type Hook struct {
	URL     string        `yaml:"url"`
	Timeout time.Duration `yaml:"timeout"`
}

// Credential is a user name and password.
type Credential struct {
	User     string `yaml:"user"`
	Password Secret `yaml:"password"`
}

// MQTT is which broker the devices talk to.
type MQTT struct {
	// Broker is "embedded" (run a broker here) or the URL of an external
	// broker: tcp://, tls://, ws:// or wss://.
	Broker   string       `yaml:"broker"`
	Embedded MQTTEmbedded `yaml:"embedded"`
	// Username and Password log in to an external broker; the password
	// may come from SKYRELAY_MQTT_PASSWORD instead (see fromEnv).
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// ClientID for the external broker; empty picks skyrelay-<random>.
	ClientID string `yaml:"client_id"`
}

// MQTTEmbedded configures the embedded broker.
type MQTTEmbedded struct {
	// Listen is the MQTT TCP address ("" disables it).
	Listen string `yaml:"listen"`
	// WSListen is the MQTT-over-WebSocket address, any path such as /mqtt
	// ("" disables it).
	WSListen string `yaml:"ws_listen"`
	// TLSListen is MQTT over TLS ("" disables it).
	TLSListen string `yaml:"tls_listen"`
	// Users are the device accounts (control/README.md has the topic rule).
	Users []MQTTUser `yaml:"users"`
	// AllowAnonymous lets clients without credentials in from anywhere,
	// with access to every topic (a lab only); loopback clients may always
	// connect anonymously.
	AllowAnonymous bool `yaml:"allow_anonymous"`
}

// MQTTUser is a device account of the embedded broker.
type MQTTUser struct {
	User     string `yaml:"user"`
	Password Secret `yaml:"password"`
	// Gateways lists the SNs of the devices holding the connection (docks,
	// remote controllers) this account may act for; empty means the user
	// name is that SN; ["*"] means any device.
	Gateways []string `yaml:"gateways"`
}

// Control tunes the DJI control plane.
type Control struct {
	// OfflineAfter: a device silent (no osd) for this long is offline.
	OfflineAfter time.Duration `yaml:"offline_after"`
	// ReplyTimeout bounds the wait for a services_reply.
	ReplyTimeout time.Duration `yaml:"reply_timeout"`
	// ReadyTimeout bounds the wait for playable media once the device has
	// accepted live_start_push.
	ReadyTimeout time.Duration `yaml:"ready_timeout"`
	// IdleStopAfter stops a device push that has had no viewer for this
	// long; 0 never stops.
	IdleStopAfter time.Duration `yaml:"idle_stop_after"`
	// DefaultProtocol is used when POST /api/v1/live names none and for
	// on-demand starts: rtmp, rtsp, gb28181 or whip.
	DefaultProtocol string `yaml:"default_protocol"`
	// RTSPDevicePort is the port a remote controller is asked to serve
	// RTSP on (url_type 2).
	RTSPDevicePort int `yaml:"rtsp_device_port"`
	// StartRetries bounds the retries of live_start_push refused with
	// x13006 shortly after the device came online.
	StartRetries int `yaml:"start_retries"`
	// StartRetryBackoff is the first wait between such retries; it doubles.
	StartRetryBackoff time.Duration `yaml:"start_retry_backoff"`

	// Answers to the dock's `config` request (developer-portal app).
	AppID         string `yaml:"app_id"`
	AppKey        Secret `yaml:"app_key"`
	AppLicense    Secret `yaml:"app_license"`
	NTPServerHost string `yaml:"ntp_server_host"`
	NTPServerPort int    `yaml:"ntp_server_port"`

	// Answers to the binding requests of Pilot 2's cloud access.
	OrganizationID   string `yaml:"organization_id"`
	OrganizationName string `yaml:"organization_name"`
	// BindingCode, when set, must match the device_binding_code a dock
	// presents; empty accepts any code.
	BindingCode Secret `yaml:"binding_code"`
	// AutoBind reports every device as already bound to the organization,
	// so the binding screens are skipped; false reports a device bound only
	// after it bound itself through airport_organization_bind.
	AutoBind bool `yaml:"auto_bind"`
}

// GB28181 is the SIP platform identity and media ports.
type GB28181 struct {
	SIPListen  string `yaml:"sip_listen"`
	MediaPorts string `yaml:"media_ports"`
	Domain     string `yaml:"domain"`
	ServerID   string `yaml:"server_id"`
	Password   Secret `yaml:"password"` // default device password; per-session ones are minted
	// Upstreams are the upper platforms we register to (gb28181_upstreams.go).
	Upstreams []GB28181Upstream `yaml:"upstreams"`
}

// Secret is a string that never prints.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "***"
}

// RedactURL makes a URL safe to log: a password in it and its query
// (where push secrets and tokens live) are hidden. Text that is no URL
// with a scheme is hidden whole: it may be a DJI url_type 1 parameter
// list, password included.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "<unparseable url>"
	}
	hasQuery := u.RawQuery != "" || u.ForceQuery
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	s := u.Redacted() // hides a password in the userinfo
	if hasQuery {
		s += "?REDACTED"
	}
	return s
}

// Default returns the configuration of an empty file.
func Default() Config {
	return Config{
		LogLevel: "info",
		HTTP:     HTTP{Listen: ":8080"},
		RTMP:     RTMP{Listen: ":1935"},
		RTSP:     RTSP{Listen: ":8554", UDPRTPListen: ":8000", UDPRTCPListen: ":8001", PullTransport: "tcp"},
		WebRTC:   WebRTC{Listen: ":8189"},
		HLS:      HLS{SegmentCount: 7, SegmentDuration: time.Second, PartDuration: 200 * time.Millisecond, CloseAfter: 60 * time.Second},
		Streams:  Streams{ReconnectGrace: 10 * time.Second, ReaderQueue: 512},
		Auth:     Auth{JWT: JWT{Claim: "skyrelay_permissions"}, Hook: Hook{Timeout: 5 * time.Second}, LoopbackTrusted: true},
		MQTT:     MQTT{Broker: "embedded", Embedded: MQTTEmbedded{Listen: ":1883", WSListen: ":8083"}, ClientID: "skyrelay"},
		Control: Control{OfflineAfter: 60 * time.Second, ReplyTimeout: 20 * time.Second, ReadyTimeout: 20 * time.Second,
			IdleStopAfter: 30 * time.Second, DefaultProtocol: "rtmp", RTSPDevicePort: 8554, StartRetries: 3, StartRetryBackoff: 2 * time.Second,
			NTPServerHost: "pool.ntp.org", NTPServerPort: 123, OrganizationID: "skyrelay", OrganizationName: "Skyrelay", AutoBind: true},
		GB28181: GB28181{SIPListen: ":5060", MediaPorts: "30000-30499", Domain: "3402000000", ServerID: "34020000002000000001"},
		Record:  defaultRecord(),
	}
}

// Load reads a file; see Parse.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return Parse(b)
}

// Parse reads YAML over the defaults, fills secrets from the environment
// and validates the result.
func Parse(b []byte) (Config, error) {
	c := Default()
	if len(bytes.TrimSpace(b)) > 0 {
		var root yaml.Node
		if err := yaml.Unmarshal(b, &root); err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		if err := checkKeys(&root, reflect.TypeOf(c), ""); err != nil {
			return c, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config: %s", typeError(err))
		}
	}
	c.fromEnv()
	c.GB28181.upstreamDefaults()
	if c.PublicHost == "" {
		c.PublicHost = firstAddress()
	}
	return c, c.Validate()
}

// fromEnv lets secrets stay out of the file (docs/configuration.md).
func (c *Config) fromEnv() {
	if v := os.Getenv("SKYRELAY_MQTT_PASSWORD"); v != "" {
		c.MQTT.Password = Secret(v)
	}
	if v := os.Getenv("SKYRELAY_APP_KEY"); v != "" {
		c.Control.AppKey = Secret(v)
	}
	if v := os.Getenv("SKYRELAY_APP_LICENSE"); v != "" {
		c.Control.AppLicense = Secret(v)
	}
	if v := os.Getenv("SKYRELAY_API_TOKEN"); v != "" {
		c.Auth.APIToken = Secret(v)
	}
	if v := os.Getenv("SKYRELAY_JWT_SECRET"); v != "" {
		c.Auth.JWT.Secret = Secret(v)
	}
	if v := os.Getenv("SKYRELAY_GB28181_PASSWORD"); v != "" {
		c.GB28181.Password = Secret(v)
	}
	c.GB28181.upstreamsFromEnv()
}

// checkKeys walks the YAML tree against the struct and names the first key
// that does not exist, by its dotted path.
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			if err := checkKeys(c, t, path); err != nil {
				return err
			}
		}
		return nil
	}
	if n.Kind == 0 || n.Tag == "!!null" {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("config: %s: must be a mapping", orRoot(path))
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if tag := strings.Split(f.Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
				fields[tag] = f.Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			ft, ok := fields[k]
			if !ok {
				return fmt.Errorf("config: %s: unknown key (line %d)", join(path, k), n.Content[i].Line)
			}
			if err := checkKeys(n.Content[i+1], ft, join(path, k)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for i, c := range n.Content {
				if err := checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			return nil
		}
		fallthrough
	default:
		// A leaf: decode it alone so a type error names its key.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			return fmt.Errorf("config: %s: %s", orRoot(path), strings.TrimPrefix(typeError(err), fmt.Sprintf("line %d: ", n.Line)))
		}
	}
	return nil
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func orRoot(p string) string {
	if p == "" {
		return "(top level)"
	}
	return p
}

// typeError turns yaml.v3's type errors into one line.
func typeError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return te.Errors[0]
	}
	return err.Error()
}

// firstAddress is the default public_host: the first non-loopback address.
// It is looked up once per process: a config is parsed at start and on
// every reload, and the answer does not change between them.
var firstAddress = sync.OnceValue(func() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ip, ok := a.(*net.IPNet); ok && !ip.IP.IsLoopback() && ip.IP.To4() != nil {
				return ip.IP.String()
			}
		}
	}
	return "127.0.0.1"
})
