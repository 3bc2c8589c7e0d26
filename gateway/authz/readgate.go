package authz

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
)

// AuthorizeRead allows or refuses a reader of path over protocol (rtsp,
// rtsps, rtmp, rtmps, webrtc, hls, api, recordings). Without auth.jwt and
// auth.hook it is CheckRead. With them, loopback may read (unless
// DistrustLoopback),
// the static read credential still works, and anything else needs a token
// whose permissions allow path, or the hook's yes. The errors wrap
// ErrUnauthorized (no credential: ask for one) or ErrForbidden, and never
// quote a credential.
func (a *Auth) AuthorizeRead(ctx context.Context, path, protocol string, remote net.Addr, c Credential) error {
	if !a.Authz.Enabled() {
		return a.CheckRead(remote, c)
	}
	if !a.DistrustLoopback && IsLoopback(remote) {
		return nil
	}
	if a.ReadPass != "" && equal(a.ReadUser, c.User) && equal(a.ReadPass, c.Pass) {
		return nil
	}
	token := c.JWT
	if token == "" {
		token = c.Token
	}
	err := a.Authz.Authorize(ctx, Request{Action: ActionRead, Path: path, Protocol: protocol,
		IP: hostOf(remote), User: c.User, Password: c.Pass, Token: token, Query: c.Query})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNoCredential):
		return authError{ErrUnauthorized, "a token is required to read: send it as a bearer token, or as the query key jwt"}
	default:
		return authError{ErrForbidden, "this credential does not allow reading this path (" + err.Error() + ")"}
	}
}

// authError says why in its own words and is ErrUnauthorized or
// ErrForbidden to errors.Is.
type authError struct {
	kind error
	msg  string
}

func (e authError) Error() string { return e.msg }
func (e authError) Unwrap() error { return e.kind }

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// HTTPCredential collects what an HTTP reader presented: Basic auth, a
// bearer token, user/pass/secret and jwt/token query keys (players that
// cannot set headers), and the raw query for the authorization hook.
func HTTPCredential(r *http.Request) Credential {
	var c Credential
	if u, p, ok := r.BasicAuth(); ok {
		c.User, c.Pass = u, p
	}
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		c.Token = strings.TrimSpace(v)
	}
	q := r.URL.Query()
	if c.User == "" && c.Pass == "" {
		c.User, c.Pass = q.Get("user"), q.Get("pass")
	}
	if c.Token == "" {
		c.Token = q.Get("secret")
	}
	c.JWT = TokenFromQuery(q)
	c.Query = r.URL.RawQuery
	return c
}
