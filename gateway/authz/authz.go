package authz

import (
	"context"
	"errors"
)

// Errors of Authorize: no credential (ask for one: 401, RTSP
// WWW-Authenticate) or a credential that does not allow this (403).
var (
	ErrNoCredential = errors.New("a token is required")
	ErrForbidden    = errors.New("not allowed")
)

// Authorizer combines the JWT verifier and the hook. With neither set it
// allows everything (the caller's own rules apply). A valid token whose
// permissions allow the request is enough; otherwise the hook, when set,
// decides (it sees the token too, so it can overrule an expired one).
type Authorizer struct {
	JWT  *Verifier
	Hook *Hook
}

// Enabled tells whether anything is configured.
func (a *Authorizer) Enabled() bool { return a != nil && (a.JWT != nil || a.Hook != nil) }

// Authorize allows r or says why not.
func (a *Authorizer) Authorize(ctx context.Context, r Request) error {
	if !a.Enabled() {
		return nil
	}
	var tokenErr error
	if a.JWT != nil {
		tok := r.Token
		if tok == "" && looksLikeJWT(r.Password) {
			// RTSP and RTMP clients carry a token as the password.
			tok = r.Password
		}
		if tok != "" {
			c, err := a.JWT.Verify(tok)
			switch {
			case err != nil:
				tokenErr = err
			case c.Allows(r.Action, r.Path):
				return nil
			default:
				tokenErr = ErrForbidden
			}
		}
	}
	if a.Hook != nil {
		err := a.Hook.Check(ctx, r)
		switch {
		case err == nil:
			return nil
		case !presented(r):
			// Nothing was presented: ask for a credential (401), as
			// mediamtx does when its hook refuses an anonymous reader.
			return errors.Join(ErrNoCredential, err)
		case errors.Is(err, ErrHookDenied):
			return errors.Join(ErrForbidden, tokenErr, err)
		}
		return errors.Join(tokenErr, err)
	}
	if tokenErr != nil {
		return errors.Join(ErrForbidden, tokenErr)
	}
	return ErrNoCredential
}

// presented tells whether the request carried any credential.
func presented(r Request) bool { return r.Token != "" || r.User != "" || r.Password != "" }

// looksLikeJWT tells a compact JWS from a password: three base64url parts
// with a header starting "{" (base64 "ey").
func looksLikeJWT(s string) bool {
	if len(s) < 10 || s[:2] != "ey" {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			n++
		}
	}
	return n == 2
}
