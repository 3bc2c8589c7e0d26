package gateway

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/skyrelay/skyrelay/gateway/authz"
)

// TestWriteReadRefusal: a player (ffmpeg, a browser's address bar) is
// asked for Basic or Bearer; a page's own request only for Bearer, so the
// browser shows no login dialog and the page sees the 401; a credential
// that does not allow the path gets 403 without a challenge.
func TestWriteReadRefusal(t *testing.T) {
	missing := authz.ErrUnauthorized
	forbidden := errors.Join(authz.ErrForbidden, errors.New("not this path"))
	for _, c := range []struct {
		name, fetchMode string
		err             error
		code            int
		challenges      string
	}{
		{"a player", "", missing, 401, `Basic realm="skyrelay", Bearer realm="skyrelay"`},
		{"the address bar", "navigate", missing, 401, `Basic realm="skyrelay", Bearer realm="skyrelay"`},
		{"a page's fetch", "cors", missing, 401, `Bearer realm="skyrelay"`},
		{"a page's same-origin XHR", "same-origin", missing, 401, `Bearer realm="skyrelay"`},
		{"a token for another path", "cors", forbidden, 403, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/live/a/index.m3u8", nil)
			if c.fetchMode != "" {
				r.Header.Set("Sec-Fetch-Mode", c.fetchMode)
			}
			w := httptest.NewRecorder()
			WriteReadRefusal(w, r, c.err)
			got := strings.Join(w.Result().Header.Values("WWW-Authenticate"), ", ")
			if w.Code != c.code || got != c.challenges {
				t.Fatalf("%d %q, want %d %q", w.Code, got, c.code, c.challenges)
			}
		})
	}
}
