package conf

import (
	"strings"
	"testing"
)

func TestTLSAndAuthKeys(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, wantErr string
	}{
		{"TLS listeners with a certificate", "tls: {cert_file: c.pem, key_file: k.pem}\nhttp: {tls_listen: \":8443\"}\nrtmp: {tls_listen: \":1936\"}\nrtsp: {tls_listen: \":8322\"}\nmqtt: {embedded: {tls_listen: \":8883\"}}\n", ""},
		{"a TLS listener without a certificate", "rtmp: {tls_listen: \":1936\"}\n", "tls.cert_file"},
		{"a certificate without its key", "tls: {cert_file: c.pem}\n", "tls.key_file"},
		{"a bad TLS listen address", "tls: {cert_file: c.pem, key_file: k.pem}\nhttp: {tls_listen: \"8443\"}\n", "http.tls_listen"},
		{"unknown key under tls", "tls: {cert: c.pem}\n", "tls.cert: unknown key"},
		{"only a TLS MQTT listener", "tls: {cert_file: c.pem, key_file: k.pem}\nmqtt: {embedded: {listen: \"\", ws_listen: \"\", tls_listen: \":8883\"}}\n", ""},
		{"jwt secret", "auth: {jwt: {secret: 0123456789abcdef0123}}\n", ""},
		{"short jwt secret", "auth: {jwt: {secret: short}}\n", "auth.jwt.secret"},
		{"jwks url", "auth: {jwt: {jwks_url: \"https://idp.example/.well-known/jwks.json\", audience: skyrelay}}\n", ""},
		{"jwks not a URL", "auth: {jwt: {jwks_url: idp.example}}\n", "auth.jwt.jwks_url"},
		{"hook", "auth: {hook: {url: \"http://127.0.0.1:9000/auth\", timeout: 2s}, loopback_trusted: false}\n", ""},
		{"hook not http", "auth: {hook: {url: \"ftp://x/\"}}\n", "auth.hook.url"},
		{"hook timeout 0", "auth: {hook: {url: \"http://x/\", timeout: 0s}}\n", "auth.hook.timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			checkErr(t, err, tc.wantErr)
			if strings.Contains(tc.yaml, "0123456789abcdef0123") && (strings.Contains(err2s(err), "0123456789") || strings.Contains(c.Auth.JWT.Secret.String(), "0123")) {
				t.Fatal("the JWT secret prints")
			}
		})
	}
	d := Default()
	if d.TLSOn() || d.Auth.ReadAuthOn() || !d.Auth.LoopbackTrusted || d.Auth.JWT.Claim != "skyrelay_permissions" {
		t.Fatalf("defaults: TLS %v, read auth %v, loopback trusted %v, claim %q", d.TLSOn(), d.Auth.ReadAuthOn(), d.Auth.LoopbackTrusted, d.Auth.JWT.Claim)
	}
	t.Setenv("SKYRELAY_JWT_SECRET", "from-the-environment-1234")
	c, err := Parse(nil)
	if err != nil || c.Auth.JWT.Secret != "from-the-environment-1234" || !c.Auth.ReadAuthOn() {
		t.Fatalf("SKYRELAY_JWT_SECRET: %v, %v", err, c.Auth.ReadAuthOn())
	}
}

func err2s(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
