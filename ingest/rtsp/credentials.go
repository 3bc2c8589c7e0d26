package rtsp

import (
	"net"
	"net/url"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"

	"github.com/skyrelay/skyrelay/gateway/authz"
)

// presented is the credential a request carries: the user and password of
// Basic authentication (RFC 2617 §2; the server offers only Basic because
// per-push secrets are checked as plain passwords, which Digest never
// reveals), a ?secret= token in the URL, which is how the control plane
// hands a per-push secret to a device, and a ?jwt= or ?token= token for a
// reader (a token may also be the password).
func presented(req *base.Request, query string) authz.Credential {
	var c authz.Credential
	if q, err := url.ParseQuery(query); err == nil {
		c.Token = q.Get("secret")
		c.JWT = authz.TokenFromQuery(q)
	}
	c.Query = query
	var a headers.Authorization
	if a.Unmarshal(req.Header["Authorization"]) == nil && a.Method == headers.AuthMethodBasic {
		c.User, c.Pass = a.Username, a.BasicPass
	}
	return c
}

// provided tells whether the client tried a credential, as opposed to a
// first request that only waits for the 401 challenge.
func provided(c authz.Credential) bool {
	return c.User != "" || c.Pass != "" || c.Token != "" || c.JWT != ""
}

// unauthorized answers 401. The liberrors.ErrServerAuth value matters:
// gortsplib adds the WWW-Authenticate challenge when the request carried no
// credential, and closes the connection when it carried a wrong one.
func unauthorized() (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
}

// remote is the client's address (or what a test pretends it is).
func (s *Server) remote(c *gortsplib.ServerConn) net.Addr {
	if s.remoteOf != nil {
		return s.remoteOf(c)
	}
	return c.NetConn().RemoteAddr()
}
