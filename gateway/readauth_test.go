package gateway

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway/authz"
	"github.com/skyrelay/skyrelay/gateway/authz/authztest"
)

func TestAuthorizeRead(t *testing.T) {
	secret := []byte("read-secret-read-secret")
	tok := authztest.HS256(secret, authztest.Claims(time.Hour, authztest.Read("live/*"), nil))
	jwt := &authz.Authorizer{JWT: &authz.Verifier{Secret: secret}}
	remote := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 9), Port: 5000}
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}
	for _, tc := range []struct {
		name   string
		auth   *Auth
		path   string
		remote net.Addr
		cred   Credential
		want   error
	}{
		{"open by default", &Auth{}, "live/a", remote, Credential{}, nil},
		{"static read password, nothing else", &Auth{ReadUser: "v", ReadPass: "pw"}, "live/a", remote, Credential{}, ErrUnauthorized},
		{"token from ?jwt=", &Auth{Authz: jwt}, "live/a", remote, Credential{JWT: tok}, nil},
		{"token as bearer", &Auth{Authz: jwt}, "live/a", remote, Credential{Token: tok}, nil},
		{"token as the password", &Auth{Authz: jwt}, "live/a", remote, Credential{User: "x", Pass: tok}, nil},
		{"token for another path", &Auth{Authz: jwt}, "other/a", remote, Credential{JWT: tok}, ErrForbidden},
		{"no token", &Auth{Authz: jwt}, "live/a", remote, Credential{}, ErrUnauthorized},
		{"a bad token", &Auth{Authz: jwt}, "live/a", remote, Credential{JWT: tok + "x"}, ErrForbidden},
		{"loopback trusted", &Auth{Authz: jwt}, "live/a", local, Credential{}, nil},
		{"loopback not trusted (a proxy)", &Auth{Authz: jwt, DistrustLoopback: true}, "live/a", local, Credential{}, ErrUnauthorized},
		{"read password, loopback trusted", &Auth{ReadUser: "v", ReadPass: "pw"}, "live/a", local, Credential{}, nil},
		{"read password, loopback not trusted", &Auth{ReadUser: "v", ReadPass: "pw", DistrustLoopback: true}, "live/a", local, Credential{}, ErrUnauthorized},
		{"static read credential beside tokens", &Auth{Authz: jwt, ReadUser: "v", ReadPass: "pw"}, "x/y", remote, Credential{User: "v", Pass: "pw"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.auth.AuthorizeRead(context.Background(), tc.path, "hls", tc.remote, tc.cred)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("AuthorizeRead = %v, want %v", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), tok[len(tok)-10:]) {
				t.Fatalf("the error quotes the token: %v", err)
			}
		})
	}
}
