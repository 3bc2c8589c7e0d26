package conf

import (
	"net/url"
)

// TLSOn tells whether any TLS listener is configured.
func (c *Config) TLSOn() bool {
	return c.HTTP.TLSListen != "" || c.RTMP.TLSListen != "" || c.RTSP.TLSListen != "" || c.MQTT.Embedded.TLSListen != ""
}

// validateTLS checks the TLS listeners and that a certificate comes with
// them. The files themselves are read at start-up (gateway/tlscert), which
// names the file that does not load.
func (c *Config) validateTLS(bad func(key, format string, a ...any)) {
	for key, addr := range map[string]string{
		"http.tls_listen": c.HTTP.TLSListen, "rtmp.tls_listen": c.RTMP.TLSListen,
		"rtsp.tls_listen": c.RTSP.TLSListen, "mqtt.embedded.tls_listen": c.MQTT.Embedded.TLSListen,
	} {
		if addr == "" {
			continue
		}
		if err := checkListen(addr); err != nil {
			bad(key, "%v", err)
		}
		if c.TLS.CertFile == "" || c.TLS.KeyFile == "" {
			bad("tls.cert_file", "%s needs tls.cert_file and tls.key_file", key)
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls.key_file", "tls.cert_file and tls.key_file go together")
	}
}

// ReadAuthOn tells whether readers are authorized per request (JWT or hook).
func (a *Auth) ReadAuthOn() bool {
	return a.JWT.Secret != "" || a.JWT.JWKSURL != "" || a.Hook.URL != ""
}

func (a *Auth) validate(bad func(key, format string, a ...any)) {
	if a.JWT.Secret != "" && len(a.JWT.Secret) < 16 {
		bad("auth.jwt.secret", "must be at least 16 bytes (HS256 keys are meant to be random)")
	}
	for key, raw := range map[string]string{"auth.jwt.jwks_url": a.JWT.JWKSURL, "auth.hook.url": a.Hook.URL} {
		if raw == "" {
			continue
		}
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(key, "must be an http:// or https:// URL")
		}
	}
	if a.JWT.Claim == "" {
		bad("auth.jwt.claim", "must not be empty")
	}
	if a.Hook.Timeout <= 0 {
		bad("auth.hook.timeout", "must be > 0")
	}
}
