package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/skyrelay/skyrelay/gateway/authz"
)

// WriteError answers with the API's error shape:
// {"error":{"code":"...","message":"..."}}.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

// WriteJSON answers with v as JSON, the one writer of every JSON answer of
// the HTTP server (API, WHEP/WHIP and HLS errors, control API). & < > stay
// as they are: answers carry URLs with query strings.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal","message":"cannot encode the answer"}}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// APINotFound answers the requests no route of mux takes, for everything
// under prefix (register it there): 405 with Allow when the path has routes
// for other methods, 404 otherwise, both in the API's JSON (ServeMux's own
// answers are plain text).
func APINotFound(mux *http.ServeMux, prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
			r2 := r.Clone(r.Context())
			r2.Method = m
			if _, pat := mux.Handler(r2); pat != prefix && pat != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here; use "+strings.Join(allow, ", "))
			return
		}
		WriteError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.URL.Path)
	})
}

// WriteReadRefusal answers an HTTP reader that AuthorizeRead refused: 401
// with challenges for Basic and Bearer when a credential is missing, 403
// when the one sent does not allow this path. A request a page's script or
// media element made (Sec-Fetch-Mode other than navigate: WHEP, hls.js)
// gets no Basic challenge: the browser would pop its login dialog over the
// page, or cancel the request so that the page never sees the 401 and
// cannot say "not authorized" itself.
func WriteReadRefusal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, authz.ErrForbidden) {
		WriteError(w, http.StatusForbidden, "forbidden", err.Error())
		return
	}
	if m := r.Header.Get("Sec-Fetch-Mode"); m == "" || m == "navigate" {
		w.Header().Add("WWW-Authenticate", `Basic realm="skyrelay"`)
	}
	w.Header().Add("WWW-Authenticate", `Bearer realm="skyrelay"`)
	WriteError(w, http.StatusUnauthorized, "unauthorized", "a read credential is required")
}
