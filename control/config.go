package control

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// MQTTConfig is the `mqtt:` section: which broker the devices talk to.
type MQTTConfig struct {
	// Broker is "embedded" (run a broker here) or the URL of an external
	// broker: tcp://, tls://, ws:// or wss://.
	Broker   string         `yaml:"broker"`
	Embedded EmbeddedBroker `yaml:"embedded"`
	// Username and Password log in to an external broker. The password may
	// also come from SKYRELAY_MQTT_PASSWORD.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// ClientID for the external broker; empty picks skyrelay-<random>.
	ClientID string `yaml:"client_id"`
}

// EmbeddedBroker is `mqtt.embedded:`.
type EmbeddedBroker struct {
	// Listen is the MQTT TCP address ("" disables it).
	Listen string `yaml:"listen"`
	// WSListen is the MQTT-over-WebSocket address, any path such as /mqtt
	// ("" disables it).
	WSListen string `yaml:"ws_listen"`
	// Users are the device accounts (see README.md for the topic rule).
	Users []BrokerUser `yaml:"users"`
	// AllowAnonymousLoopback admits clients without credentials from this
	// host, with access to every topic.
	AllowAnonymousLoopback bool `yaml:"allow_anonymous_loopback"`
	// AllowAnonymous admits clients without credentials from anywhere, with
	// access to every topic. For a lab only.
	AllowAnonymous bool `yaml:"allow_anonymous"`
}

// BrokerUser is one account of the embedded broker.
type BrokerUser struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Gateways lists the gateway SNs this account may act for; empty means
	// the username is the gateway SN; ["*"] means any gateway.
	Gateways []string `yaml:"gateways"`
}

// Config is the `control:` section.
type Config struct {
	// OfflineAfter: a gateway silent (no osd) for this long is offline.
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
	// StartRetries bounds the retries of live_start_push refused with
	// x13006 shortly after the device came online.
	StartRetries int `yaml:"start_retries"`
	// StartRetryBackoff is the first wait between such retries; it doubles.
	StartRetryBackoff time.Duration `yaml:"start_retry_backoff"`

	// Answers to the dock's `config` request (developer-portal app).
	AppID         string `yaml:"app_id"`
	AppKey        string `yaml:"app_key"`
	AppLicense    string `yaml:"app_license"`
	NTPServerHost string `yaml:"ntp_server_host"`
	NTPServerPort int    `yaml:"ntp_server_port"`

	// Answers to the dock binding requests during Pilot 2's cloud access.
	OrganizationID   string `yaml:"organization_id"`
	OrganizationName string `yaml:"organization_name"`
	// BindingCode, when set, must match the device_binding_code a dock
	// presents; empty accepts any code.
	BindingCode string `yaml:"binding_code"`
	// AutoBind reports every device as already bound to the organization,
	// so the binding screens are skipped; false reports a device bound only
	// after it bound itself through airport_organization_bind.
	AutoBind bool `yaml:"auto_bind"`
}

// DefaultMQTTConfig is the `mqtt:` section of an empty file.
func DefaultMQTTConfig() MQTTConfig {
	return MQTTConfig{
		Broker: "embedded",
		Embedded: EmbeddedBroker{
			Listen:                 ":1883",
			WSListen:               ":8083",
			AllowAnonymousLoopback: true,
		},
	}
}

// DefaultConfig is the `control:` section of an empty file.
func DefaultConfig() Config {
	return Config{
		OfflineAfter:      60 * time.Second,
		ReplyTimeout:      20 * time.Second,
		ReadyTimeout:      20 * time.Second,
		IdleStopAfter:     30 * time.Second,
		DefaultProtocol:   "rtmp",
		StartRetries:      3,
		StartRetryBackoff: 2 * time.Second,
		NTPServerHost:     "pool.ntp.org",
		NTPServerPort:     123,
		OrganizationID:    "skyrelay",
		OrganizationName:  "Skyrelay",
		AutoBind:          true,
	}
}

// EnvMQTTPassword names the environment variable that may hold the external
// broker's password.
const EnvMQTTPassword = "SKYRELAY_MQTT_PASSWORD"

// ApplyEnv takes the broker password from SKYRELAY_MQTT_PASSWORD when set.
func (c *MQTTConfig) ApplyEnv() {
	if v := os.Getenv(EnvMQTTPassword); v != "" {
		c.Password = v
	}
}

// Validate checks the section; errors name the key relative to `mqtt:`.
func (c MQTTConfig) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if c.Broker == "embedded" {
		if c.Embedded.Listen == "" && c.Embedded.WSListen == "" {
			bad("embedded.listen", "the embedded broker needs listen or ws_listen")
		}
		for _, l := range []struct{ key, addr string }{{"embedded.listen", c.Embedded.Listen}, {"embedded.ws_listen", c.Embedded.WSListen}} {
			if l.addr != "" {
				if err := checkListen(l.addr); err != nil {
					bad(l.key, "%v", err)
				}
			}
		}
		seen := map[string]bool{}
		for i, u := range c.Embedded.Users {
			key := fmt.Sprintf("embedded.users[%d]", i)
			switch {
			case u.Username == "":
				bad(key+".username", "must not be empty")
			case seen[u.Username]:
				bad(key+".username", "%q appears twice", u.Username)
			case u.Password == "":
				bad(key+".password", "must not be empty")
			}
			seen[u.Username] = true
			for j, g := range u.Gateways {
				if g == "" || strings.ContainsAny(g, "/+#") {
					bad(fmt.Sprintf("%s.gateways[%d]", key, j), "%q is not a gateway SN or *", g)
				}
			}
		}
	} else {
		u, err := url.Parse(c.Broker)
		if err != nil || u.Host == "" || !strings.Contains(" tcp mqtt ssl tls ws wss ", " "+u.Scheme+" ") {
			bad("broker", "must be \"embedded\" or a tcp://, tls://, ws:// or wss:// URL, not %q", redactURL(c.Broker))
		}
	}
	return first(errs)
}

// Validate checks the section; errors name the key relative to `control:`.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if c.OfflineAfter <= 0 {
		bad("offline_after", "must be > 0")
	}
	if c.ReplyTimeout <= 0 {
		bad("reply_timeout", "must be > 0")
	}
	if c.ReadyTimeout <= 0 {
		bad("ready_timeout", "must be > 0")
	}
	if c.IdleStopAfter < 0 {
		bad("idle_stop_after", "must not be negative (0s = never)")
	}
	if _, ok := urlTypes[c.DefaultProtocol]; !ok {
		bad("default_protocol", "must be rtmp, rtsp, gb28181 or whip, not %q", c.DefaultProtocol)
	}
	if c.StartRetries < 0 || c.StartRetries > 10 {
		bad("start_retries", "must be between 0 and 10")
	}
	if c.StartRetryBackoff <= 0 {
		bad("start_retry_backoff", "must be > 0")
	}
	if c.NTPServerPort < 1 || c.NTPServerPort > 65535 {
		bad("ntp_server_port", "must be a port number")
	}
	return first(errs)
}

// LogValue keeps the password out of logs.
func (c MQTTConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("broker", redactURL(c.Broker)),
		slog.String("listen", c.Embedded.Listen),
		slog.String("ws_listen", c.Embedded.WSListen),
		slog.Int("users", len(c.Embedded.Users)),
		slog.String("username", c.Username),
	)
}

// LogValue keeps the app key and licence out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Duration("offline_after", c.OfflineAfter),
		slog.Duration("reply_timeout", c.ReplyTimeout),
		slog.Duration("idle_stop_after", c.IdleStopAfter),
		slog.String("default_protocol", c.DefaultProtocol),
		slog.String("app_id", c.AppID),
	)
}

// first keeps start-up errors to one line, like the rest of the config.
func first(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}

func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
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
