package cluster

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/skyrelay/skyrelay/gateway"
)

// Redirect wraps a stream endpoint (WHEP, LL-HLS, the viewer page): a
// request for a path this node does not have and another node holds gets
// a 307 to the same URL on that node. 307 keeps the method and body, which
// WHEP's POST needs; hls.js and ffmpeg resolve the playlist's relative URIs
// against the node they were sent to. A WHEP session's PATCH and DELETE
// go to the absolute Location the holder answered, so they never come here.
func (n *Node) Redirect(h gateway.PathHandler, local func(path string) bool) gateway.PathHandler {
	return redirector{n: n, next: h, local: local}
}

type redirector struct {
	n     *Node
	next  gateway.PathHandler
	local func(string) bool
}

func (rd redirector) ServePath(w http.ResponseWriter, r *http.Request, path, rest string) {
	if path != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead || (r.Method == http.MethodPost && rest == "")) && !rd.local(path) {
		if e, ok := rd.n.Holder(path); ok {
			http.Redirect(w, r, strings.TrimSuffix(e.HTTP, "/")+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			return
		}
	}
	rd.next.ServePath(w, r, path, rest)
}

// ForwardStart wraps POST /api/v1/live: a start of a video another node
// already pushes is sent there with a 307, so one API call anywhere never
// makes a second live_start_push. The body is read (1 MiB at most) and
// given back to next untouched.
func (n *Node) ForwardStart(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			gateway.WriteError(w, http.StatusBadRequest, "bad_request", "cannot read the body")
			return
		}
		var req struct {
			VideoID string `json:"video_id"`
		}
		if json.Unmarshal(body, &req) == nil && req.VideoID != "" {
			if e, ok := n.Holder(req.VideoID); ok {
				http.Redirect(w, r, strings.TrimSuffix(e.HTTP, "/")+r.URL.RequestURI(), http.StatusTemporaryRedirect)
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next(w, r)
	}
}

// ForwardVideo wraps the API routes of one session
// (/api/v1/live/{video_id...}): the session lives on the node holding the
// push, so a request elsewhere is sent there with a 307.
func (n *Node) ForwardVideo(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if e, ok := n.Holder(r.PathValue("video_id")); ok {
			http.Redirect(w, r, strings.TrimSuffix(e.HTTP, "/")+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			return
		}
		next(w, r)
	}
}

// Routes is the cluster's API: GET /api/v1/cluster lists this node and the
// live members of the directory as this node sees them.
func (n *Node) Routes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"GET /api/v1/cluster": func(w http.ResponseWriter, _ *http.Request) {
			gateway.WriteJSON(w, http.StatusOK, map[string]any{
				"node_id": n.ID, "http": n.HTTP, "pushes": n.held(), "members": n.Members()})
		},
		"GET /api/v1/cluster/snapshot": func(w http.ResponseWriter, _ *http.Request) {
			gateway.WriteJSON(w, http.StatusOK, map[string]any{"items": n.snap.messages()})
		},
	}
}
