package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway/authz"
	"github.com/skyrelay/skyrelay/gateway/authz/authztest"
)

func TestAPIGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, c := range []struct {
		name, token, remote, auth string
		want                      int
	}{
		{"loopback v4 needs nothing", "", "127.0.0.1:5000", "", 204},
		{"loopback v6 needs nothing", "t0k", "[::1]:5000", "", 204},
		{"elsewhere without a token configured", "", "192.0.2.7:5000", "Bearer x", 403},
		{"elsewhere without a token", "t0k", "192.0.2.7:5000", "", 401},
		{"elsewhere with a wrong token", "t0k", "192.0.2.7:5000", "Bearer t0x", 401},
		{"elsewhere with Basic", "t0k", "192.0.2.7:5000", "Basic dDBr", 401},
		{"elsewhere with the token", "t0k", "192.0.2.7:5000", "Bearer t0k", 204},
		{"an unparsable remote is elsewhere", "", "garbage", "", 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v1/live", nil)
			r.RemoteAddr = c.remote
			if c.auth != "" {
				r.Header.Set("Authorization", c.auth)
			}
			w := httptest.NewRecorder()
			apiGuard(c.token, nil, ok).ServeHTTP(w, r)
			if w.Code != c.want {
				t.Fatalf("%d, want %d (%s)", w.Code, c.want, w.Body)
			}
		})
	}
}

// TestAPIGuardJWT: with auth.jwt, a token allowing "api" opens the API;
// a GET may carry it in the query (an event stream, a <video>), a POST
// only as a header; auth.api_token is never taken from the query; a token
// that may read a path may GET that path's recordings and nothing else.
func TestAPIGuardJWT(t *testing.T) {
	secret := []byte("guard-test-secret")
	auth := &authz.Auth{Authz: &authz.Authorizer{JWT: &authz.Verifier{Secret: secret, Claim: "skyrelay_permissions"}}}
	api := authztest.HS256(secret, authztest.Claims(time.Hour, []map[string]string{{"action": "api"}}, nil))
	readA := authztest.HS256(secret, authztest.Claims(time.Hour, authztest.Read("live/a"), nil))
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, c := range []struct {
		name, method, url, auth string
		want                    int
	}{
		{"api token as a header", "GET", "/api/v1/streams", "Bearer " + api, 204},
		{"api token in a GET's query", "GET", "/api/v1/events?jwt=" + api, "", 204},
		{"api token as ?token= in a GET's query", "GET", "/api/v1/telemetry?token=" + api, "", 204},
		{"api token in a HEAD's query", "HEAD", "/api/v1/streams?jwt=" + api, "", 204},
		{"api token in a POST's query", "POST", "/api/v1/live?jwt=" + api, "", 401},
		{"api token as a POST's header", "POST", "/api/v1/live", "Bearer " + api, 204},
		{"auth.api_token in the query", "GET", "/api/v1/streams?token=s3cret", "", 403},
		{"auth.api_token as ?jwt=", "GET", "/api/v1/streams?jwt=s3cret", "", 403},
		{"auth.api_token as a header", "GET", "/api/v1/streams", "Bearer s3cret", 204},
		{"read token: its recordings", "GET", "/api/v1/recordings/live/a", "Bearer " + readA, 204},
		{"read token: its range MP4 by query", "GET", "/api/v1/recordings/live/a/mp4?start=x&jwt=" + readA, "", 204},
		{"read token: its OSD", "GET", "/api/v1/recordings/live/a/osd?jwt=" + readA, "", 204},
		{"read token: another path's recordings", "GET", "/api/v1/recordings/live/b/mp4?jwt=" + readA, "", 403},
		{"read token: the list of every recording", "GET", "/api/v1/recordings?jwt=" + readA, "", 403},
		{"read token: deleting its recordings", "DELETE", "/api/v1/recordings/live/a", "Bearer " + readA, 403},
		{"read token: the streams API", "GET", "/api/v1/streams/live/a?jwt=" + readA, "", 403},
		{"read token: events", "GET", "/api/v1/events?jwt=" + readA, "", 403},
		{"read token: its path's telemetry", "GET", "/api/v1/telemetry?path=live/a&jwt=" + readA, "", 204},
		{"read token: its path's telemetry as a header", "GET", "/api/v1/telemetry?path=%2Flive%2Fa%2F", "Bearer " + readA, 204},
		{"read token: telemetry of its path twice", "GET", "/api/v1/telemetry?path=live/a&path=live/a&sn=X&jwt=" + readA, "", 204},
		{"read token: another path's telemetry", "GET", "/api/v1/telemetry?path=live/b&jwt=" + readA, "", 403},
		{"read token: its path's and another's telemetry", "GET", "/api/v1/telemetry?path=live/a&path=live/b&jwt=" + readA, "", 403},
		{"read token: telemetry with an empty path", "GET", "/api/v1/telemetry?path=live/a&path=&jwt=" + readA, "", 403},
		{"read token: the whole fleet's telemetry", "GET", "/api/v1/telemetry?jwt=" + readA, "", 403},
		{"read token: the fleet's telemetry by sn", "GET", "/api/v1/telemetry?sn=live&jwt=" + readA, "", 403},
		{"read token: telemetry by POST", "POST", "/api/v1/telemetry?path=live/a", "Bearer " + readA, 403},
		{"read token: ?path= elsewhere in the API", "GET", "/api/v1/streams?path=live/a&jwt=" + readA, "", 403},
		{"telemetry of a path without a token", "GET", "/api/v1/telemetry?path=live/a", "", 401},
		{"nothing", "GET", "/api/v1/recordings/live/a/mp4", "", 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.url, nil)
			r.RemoteAddr = "192.0.2.7:5000"
			if c.auth != "" {
				r.Header.Set("Authorization", c.auth)
			}
			w := httptest.NewRecorder()
			apiGuard("s3cret", auth, ok).ServeHTTP(w, r)
			if w.Code != c.want {
				t.Fatalf("%d, want %d (%s)", w.Code, c.want, w.Body)
			}
			for _, s := range []string{api, readA, "s3cret"} {
				if strings.Contains(w.Body.String(), s) {
					t.Fatalf("the refusal quotes a credential: %s", w.Body)
				}
			}
		})
	}
}

// TestAPIGuardHookAsksOncePerViewer: with auth.hook, a viewer's page
// fetching one path's recordings and telemetry again and again (a <video>
// seeking, an overlay reconnecting) costs the hook one question per kind,
// not one per request: the path question is asked first and its yes is
// remembered, where a no to "api" is not. The hook still decides: another
// path is refused, and a token it allows "api" still reads everything.
func TestAPIGuardHookAsksOncePerViewer(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q authz.Request
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
			t.Errorf("hook body: %v", err)
		}
		mu.Lock()
		asked[q.Action+" "+q.Path+" "+q.Protocol]++
		mu.Unlock()
		switch {
		case q.Token == "viewer" && q.Action == authz.ActionRead && q.Path == "live/a",
			q.Token == "operator" && q.Action == authz.ActionAPI:
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	t.Cleanup(hook.Close)
	auth := &authz.Auth{Authz: &authz.Authorizer{Hook: &authz.Hook{URL: hook.URL}}}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	get := func(url string) int {
		r := httptest.NewRequest("GET", url, nil)
		r.RemoteAddr = "192.0.2.7:5000"
		w := httptest.NewRecorder()
		apiGuard("", auth, ok).ServeHTTP(w, r)
		return w.Code
	}
	for i := 0; i < 5; i++ {
		for _, u := range []string{"/api/v1/recordings/live/a/mp4?start=" + strconv.Itoa(i) + "&token=viewer",
			"/api/v1/telemetry?path=live/a&token=viewer"} {
			if code := get(u); code != 204 {
				t.Fatalf("%s: %d, want 204", u, code)
			}
		}
	}
	if code := get("/api/v1/recordings/live/b/mp4?token=viewer"); code != 403 {
		t.Fatalf("another path's recordings: %d, want 403", code)
	}
	if code := get("/api/v1/recordings/live/b/mp4?token=operator"); code != 204 {
		t.Fatalf("an operator's recordings: %d, want 204", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if asked["read live/a recordings"] != 1 || asked["read live/a telemetry"] != 1 ||
		asked["api api/v1/recordings/live/a/mp4 api"] != 0 || asked["api api/v1/telemetry api"] != 0 {
		t.Fatalf("the hook was asked %v: want live/a's recordings and telemetry once each, and no api question for the viewer", asked)
	}
}
