package main

import (
	"time"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/gateway/authz"
)

// jwtLeeway forgives clocks that disagree a little about exp and nbf.
const jwtLeeway = 30 * time.Second

// readAuthorizer builds the per-request authorization of auth.jwt and
// auth.hook (docs/security.md); nil when neither is configured.
func readAuthorizer(c conf.Auth) *authz.Authorizer {
	if !c.ReadAuthOn() {
		return nil
	}
	a := &authz.Authorizer{}
	if c.JWT.Secret != "" || c.JWT.JWKSURL != "" {
		v := &authz.Verifier{Secret: []byte(c.JWT.Secret), Audience: c.JWT.Audience, Issuer: c.JWT.Issuer,
			Claim: c.JWT.Claim, Leeway: jwtLeeway}
		if c.JWT.JWKSURL != "" {
			v.Keys = &authz.JWKS{URL: c.JWT.JWKSURL}
		}
		a.JWT = v
	}
	if c.Hook.URL != "" {
		a.Hook = &authz.Hook{URL: c.Hook.URL, Timeout: c.Hook.Timeout}
	}
	return a
}
