package conf

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, wantErr string
	}{
		{"empty file is valid", "", ""},
		{"comments only", "# nothing\n", ""},
		{"known keys", "http:\n  listen: \":9090\"\ncontrol:\n  idle_stop_after: 0s\n", ""},
		{"unknown key names its dotted path", "http:\n  listn: \":1\"\n", "http.listn: unknown key"},
		{"unknown top-level key", "rtmpp: {}\n", "rtmpp: unknown key"},
		{"unknown key in a list item", "auth:\n  publishers:\n    - user: a\n      pass: b\n", "auth.publishers[0].pass: unknown key"},
		{"wrong type", "streams:\n  reader_queue: lots\n", "reader_queue"},
		{"bad duration", "control:\n  reply_timeout: soon\n", "reply_timeout"},
		{"impossible value", "control:\n  reply_timeout: 0s\n", "control.reply_timeout: must be > 0"},
		{"bad listen address", "rtmp:\n  listen: \"1935\"\n", "rtmp.listen"},
		{"bad log level", "log_level: loud\n", "log_level"},
		{"bad broker URL", "mqtt:\n  broker: mosquitto\n", "mqtt.broker"},
		{"external broker", "mqtt:\n  broker: tcp://127.0.0.1:1883\n", ""},
		{"bad gb28181 id", "gb28181:\n  server_id: \"123\"\n", "gb28181.server_id"},
		{"bad port range", "gb28181:\n  media_ports: 30000\n", "gb28181.media_ports"},
		{"bad public ip", "webrtc:\n  public_ips: [example.com]\n", "webrtc.public_ips[0]"},
		{"a section that is not a mapping", "http: 8080\n", "http: must be a mapping"},
		{"not YAML", "http: [\n", "config:"},
		{"embedded account without a password", "mqtt:\n  embedded:\n    users:\n      - user: DOCK1\n", "mqtt.embedded.users[0].password"},
		{"embedded account twice", "mqtt:\n  embedded:\n    users:\n      - {user: a, password: b}\n      - {user: a, password: c}\n", "mqtt.embedded.users[1].user"},
		{"a wildcard in an account's devices", "mqtt:\n  embedded:\n    users:\n      - {user: a, password: b, gateways: [\"x/+\"]}\n", "mqtt.embedded.users[0].gateways[0]"},
		{"a bad glob in an account's devices", "mqtt:\n  embedded:\n    users:\n      - {user: a, password: b, gateways: [\"1581[\"]}\n", "mqtt.embedded.users[0].gateways[0]"},
		{"an SN glob in an account's devices", "mqtt:\n  embedded:\n    users:\n      - {user: a, password: b, gateways: [\"1581F5*\"]}\n", ""},
		{"a configured user named like a minted one", "mqtt:\n  embedded:\n    users:\n      - {user: pilot-x, password: b}\n", "mqtt.embedded.users[0].user"},
		{"embedded broker without a listener", "mqtt:\n  embedded:\n    listen: \"\"\n    ws_listen: \"\"\n", "mqtt.embedded.listen"},
		{"no ready timeout", "control:\n  ready_timeout: 0s\n", "control.ready_timeout: must be > 0"},
		{"no retry back-off", "control:\n  start_retry_backoff: 0s\n", "control.start_retry_backoff: must be > 0"},
		{"cluster on an external broker", "mqtt:\n  broker: tcp://127.0.0.1:1883\ncluster:\n  enabled: true\n  node_id: gw1\n  advertise: http://10.0.0.1:8080\n", ""},
		{"cluster on the embedded broker", "cluster:\n  enabled: true\n", "cluster.enabled"},
		{"cluster node id with a slash", "cluster:\n  node_id: a/b\n", "cluster.node_id"},
		{"cluster advertise not a URL", "cluster:\n  advertise: 10.0.0.1\n", "cluster.advertise"},
		{"cluster typo", "cluster:\n  enable: true\n", "cluster.enable: unknown key"},
		{"bad NTP port", "control:\n  ntp_server_port: 0\n", "control.ntp_server_port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			checkErr(t, err, tc.wantErr)
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != ":8080" || c.RTMP.Listen != ":1935" || c.RTSP.Listen != ":8554" || c.WebRTC.Listen != ":8189" ||
		c.MQTT.Broker != "embedded" || c.MQTT.Embedded.Listen != ":1883" || c.MQTT.Embedded.WSListen != ":8083" ||
		c.Control.OfflineAfter != 60*time.Second || c.Control.ReplyTimeout != 20*time.Second ||
		c.Control.IdleStopAfter != 30*time.Second || c.Control.DefaultProtocol != "rtmp" ||
		c.GB28181.SIPListen != ":5060" || c.GB28181.Domain != "3402000000" || c.GB28181.ServerID != "34020000002000000001" ||
		c.Streams.ReconnectGrace != 10*time.Second || c.PublicHost == "" {
		t.Fatalf("defaults differ from docs/configuration.md: %+v", c)
	}
}

func TestSecretsFromEnvironmentNeverPrint(t *testing.T) {
	t.Setenv("SKYRELAY_MQTT_PASSWORD", "hunter2")
	c, err := Parse([]byte("mqtt:\n  broker: tcp://127.0.0.1:1883\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.MQTT.Password != "hunter2" {
		t.Fatal("password not taken from the environment")
	}
	if s := c.MQTT.Password.String(); strings.Contains(s, "hunter2") {
		t.Fatalf("secret printed: %s", s)
	}
}

// TestBrokerErrorHidesPassword: a refused broker URL is named without the
// password it carries.
func TestBrokerErrorHidesPassword(t *testing.T) {
	_, err := Parse([]byte("mqtt:\n  broker: \"foo://u:hunter2@h:1\"\n"))
	if err == nil || !strings.Contains(err.Error(), "mqtt.broker") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error = %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"rtmp://10.0.0.1:1935/live/a?secret=abc&x=1": "rtmp://10.0.0.1:1935/live/a?REDACTED",
		"rtmp://u:pw@host/live/a":                    "rtmp://u:xxxxx@host/live/a",
		"rtmp://host/live/a":                         "rtmp://host/live/a",
		"serverIP=1.2.3.4&agentPassword=pw":          "<unparseable url>",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
