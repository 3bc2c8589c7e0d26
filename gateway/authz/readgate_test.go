package authz_test

import (
	"context"
	"errors"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"net"
	"strings"
	"testing"
	"time"

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
		auth   *authz.Auth
		path   string
		remote net.Addr
		cred   authz.Credential
		want   error
	}{
		{"open by default", &authz.Auth{}, "live/a", remote, authz.Credential{}, nil},
		{"static read password, nothing else", &authz.Auth{ReadUser: "v", ReadPass: "pw"}, "live/a", remote, authz.Credential{}, authz.ErrUnauthorized},
		{"token from ?jwt=", &authz.Auth{Authz: jwt}, "live/a", remote, authz.Credential{JWT: tok}, nil},
		{"token as bearer", &authz.Auth{Authz: jwt}, "live/a", remote, authz.Credential{Token: tok}, nil},
		{"token as the password", &authz.Auth{Authz: jwt}, "live/a", remote, authz.Credential{User: "x", Pass: tok}, nil},
		{"token for another path", &authz.Auth{Authz: jwt}, "other/a", remote, authz.Credential{JWT: tok}, authz.ErrForbidden},
		{"no token", &authz.Auth{Authz: jwt}, "live/a", remote, authz.Credential{}, authz.ErrUnauthorized},
		{"a bad token", &authz.Auth{Authz: jwt}, "live/a", remote, authz.Credential{JWT: tok + "x"}, authz.ErrForbidden},
		{"loopback trusted", &authz.Auth{Authz: jwt}, "live/a", local, authz.Credential{}, nil},
		{"loopback not trusted (a proxy)", &authz.Auth{Authz: jwt, DistrustLoopback: true}, "live/a", local, authz.Credential{}, authz.ErrUnauthorized},
		{"read password, loopback trusted", &authz.Auth{ReadUser: "v", ReadPass: "pw"}, "live/a", local, authz.Credential{}, nil},
		{"read password, loopback not trusted", &authz.Auth{ReadUser: "v", ReadPass: "pw", DistrustLoopback: true}, "live/a", local, authz.Credential{}, authz.ErrUnauthorized},
		{"static read credential beside tokens", &authz.Auth{Authz: jwt, ReadUser: "v", ReadPass: "pw"}, "x/y", remote, authz.Credential{User: "v", Pass: "pw"}, nil},
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
