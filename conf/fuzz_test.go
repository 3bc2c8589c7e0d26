package conf

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the config reader: a config file is
// operator input, and a typo must give an error naming the key, never a
// panic. What parses must also validate again unchanged.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../configs/skyrelay.yml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"rtmp_listen: :1935\n",
		"mqtt:\n  broker: tcp://127.0.0.1:1883\n  embedded: true\n",
		"gb28181:\n  media_ports: 30000-30010\n  upstreams:\n    - name: up\n      server_id: \"34020000002000000001\"\n",
		"record:\n  enabled: true\n  part_duration: 500ms\n",
		"tls:\n  cert: a.pem\n  key: b.pem\n",
		"auth:\n  jwt:\n    secret: x\n",
		"cluster:\n  enabled: true\n",
		"[1, 2]\n",
		"rtmp_listen: [a]\n",
		"a: &x [*x]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("an error with no text")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed, then failed validation: %v", err)
		}
	})
}
