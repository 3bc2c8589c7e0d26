package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
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
