package authz

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway/authz/authztest"
)

// hookServer answers allow for the paths in allowed and records requests.
type hookServer struct {
	URL string
	mu  sync.Mutex
	got []Request
}

func newHook(t *testing.T, allowed ...string) *hookServer {
	h := &hookServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req Request
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
			json.NewDecoder(r.Body).Decode(&req) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got = append(h.got, req)
		h.mu.Unlock()
		for _, p := range allowed {
			if p == req.Path {
				w.Write([]byte("0")) // what SRS's on_play expects; the body is ignored
				return
			}
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	h.URL = srv.URL
	return h
}

func TestAuthorize(t *testing.T) {
	secret := []byte("authorize-secret")
	hook := newHook(t, "hooked/ok")
	readLive := authztest.HS256(secret, authztest.Claims(time.Hour, authztest.Read("live/*"), nil))
	expired := authztest.HS256(secret, authztest.Claims(-time.Hour, authztest.Read("**"), nil))
	jwtOnly := &Authorizer{JWT: &Verifier{Secret: secret}}
	hookOnly := &Authorizer{Hook: &Hook{URL: hook.URL}}
	both := &Authorizer{JWT: &Verifier{Secret: secret}, Hook: &Hook{URL: hook.URL}}
	read := func(path, token, pass string) Request {
		return Request{Action: ActionRead, Path: path, Protocol: "webrtc", IP: "192.0.2.1", Token: token, Password: pass}
	}
	for _, tc := range []struct {
		name string
		a    *Authorizer
		r    Request
		want error // nil: allowed
	}{
		{"nothing configured", &Authorizer{}, read("x", "", ""), nil},
		{"nil authorizer", nil, read("x", "", ""), nil},
		{"jwt allows", jwtOnly, read("live/a", readLive, ""), nil},
		{"jwt as the RTSP password", jwtOnly, read("live/a", "", readLive), nil},
		{"jwt for another path", jwtOnly, read("other/a", readLive, ""), ErrForbidden},
		{"jwt read, api asked", jwtOnly, Request{Action: ActionAPI, Path: "live/a", Token: readLive}, ErrForbidden},
		{"jwt expired", jwtOnly, read("live/a", expired, ""), ErrExpired},
		{"no token", jwtOnly, read("live/a", "", ""), ErrNoCredential},
		{"a password is not a token", jwtOnly, read("live/a", "", "hunter2"), ErrNoCredential},
		{"hook allows", hookOnly, read("hooked/ok", "", ""), nil},
		{"hook refuses a reader without credentials: ask for one", hookOnly, read("hooked/no", "", ""), ErrNoCredential},
		{"hook refuses a reader with a token", hookOnly, read("hooked/no", "tok", ""), ErrForbidden},
		{"jwt allows before the hook", both, read("live/a", readLive, ""), nil},
		{"hook allows what the jwt does not", both, read("hooked/ok", readLive, ""), nil},
		{"both refuse", both, read("other/a", readLive, ""), ErrForbidden},
		{"hook unreachable fails closed", &Authorizer{Hook: &Hook{URL: "http://127.0.0.1:1/hook", Timeout: time.Second}}, read("x", "", ""), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.a.Authorize(context.Background(), tc.r)
			if tc.name == "hook unreachable fails closed" {
				if err == nil || !strings.Contains(err.Error(), "did not answer") {
					t.Fatalf("unreachable hook: %v", err)
				}
				return
			}
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Authorize = %v, want %v", err, tc.want)
			}
		})
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if len(hook.got) == 0 || hook.got[0].Action != "read" || hook.got[0].Protocol != "webrtc" || hook.got[0].IP != "192.0.2.1" {
		t.Fatalf("the hook got %+v", hook.got)
	}
}

func TestJWKSFetchesOnNewKidAtMostSoOften(t *testing.T) {
	is := authztest.NewIssuer(t)
	v := &Verifier{Keys: &JWKS{URL: is.URL}}
	claims := authztest.Claims(time.Hour, authztest.Read("**"), nil)
	for range 3 {
		if _, err := v.Verify(is.RS256("rsa1", claims)); err != nil {
			t.Fatal(err)
		}
	}
	if n := is.Fetches(); n != 1 {
		t.Fatalf("%d fetches for one key used three times, want 1", n)
	}
	for range 20 {
		if _, err := v.Verify(is.RS256("made-up", claims)); !errors.Is(err, ErrNoKey) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n := is.Fetches(); n > 2 {
		t.Fatalf("%d fetches: unknown kids made the issuer be asked each time", n)
	}
}

func TestJWKSUnreachable(t *testing.T) {
	v := &Verifier{Keys: &JWKS{URL: "http://127.0.0.1:1/jwks"}}
	is := authztest.NewIssuer(t)
	if _, err := v.Verify(is.RS256("rsa1", authztest.Claims(time.Hour, nil, nil))); err == nil {
		t.Fatal("verified without keys")
	}
}

func TestParseJWKSSkipsWeakKeys(t *testing.T) {
	for _, tc := range []struct{ name, set string }{
		{"not JSON", "nope"},
		{"empty", `{"keys":[]}`},
		{"short RSA", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`},
		{"EC off the curve", `{"keys":[{"kty":"EC","crv":"P-256","x":"` + strings.Repeat("A", 43) + `","y":"` + strings.Repeat("A", 43) + `"}]}`},
		{"P-384", `{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]}`},
		{"encryption key", `{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}`},
	} {
		if _, err := ParseJWKS([]byte(tc.set)); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestTokenFromRequest(t *testing.T) {
	for _, tc := range []struct {
		url, header, want string
	}{
		{"/live/a/whep", "Bearer abc", "abc"},
		{"/live/a/whep", "bearer  abc ", "abc"},
		{"/live/a/whep", "Basic dXNlcjpwYXNz", ""},
		{"/live/a/index.m3u8?jwt=q1", "", "q1"},
		{"/live/a/index.m3u8?token=q2", "", "q2"},
		{"/live/a/index.m3u8?jwt=q1&token=q2", "", "q1"},
		{"/live/a/whep?jwt=q", "Bearer h", "h"},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.url, nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		if got := TokenFromRequest(r); got != tc.want {
			t.Errorf("%s %q: token %q, want %q", tc.url, tc.header, got, tc.want)
		}
	}
}
