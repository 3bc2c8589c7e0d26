package cluster

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type served struct{ path, rest string }

func (s *served) ServePath(w http.ResponseWriter, _ *http.Request, path, rest string) {
	s.path, s.rest = path, rest
	w.WriteHeader(http.StatusTeapot)
}

func TestRedirect(t *testing.T) {
	n := &Node{ID: "a", members: map[string]Entry{
		"b": {NodeID: "b", HTTP: "http://10.0.0.2:8080/", Pushes: []Push{{Path: "SN/1-0-0/normal-0", Protocol: "rtmp"}}},
	}}
	local := func(p string) bool { return p == "LOCAL/1-0-0/normal-0" }
	for _, tc := range []struct {
		name, method, url, path, rest string
		code                          int
		location                      string
	}{
		{"WHEP POST of a path held elsewhere", "POST", "/SN/1-0-0/normal-0/whep?token=x", "SN/1-0-0/normal-0", "", 307, "http://10.0.0.2:8080/SN/1-0-0/normal-0/whep?token=x"},
		{"HLS playlist", "GET", "/SN/1-0-0/normal-0/index.m3u8", "SN/1-0-0/normal-0", "index.m3u8", 307, "http://10.0.0.2:8080/SN/1-0-0/normal-0/index.m3u8"},
		{"WHEP PATCH stays (its session is where it was made)", "PATCH", "/SN/1-0-0/normal-0/whep/abc", "SN/1-0-0/normal-0", "abc", 418, ""},
		{"a path held nowhere", "GET", "/OTHER/index.m3u8", "OTHER", "index.m3u8", 418, ""},
		{"a path this node has", "GET", "/LOCAL/1-0-0/normal-0/index.m3u8", "LOCAL/1-0-0/normal-0", "index.m3u8", 418, ""},
		{"the index page", "GET", "/", "", "", 418, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := &served{}
			h := n.Redirect(next, local)
			w := httptest.NewRecorder()
			h.ServePath(w, httptest.NewRequest(tc.method, tc.url, strings.NewReader("v=0")), tc.path, tc.rest)
			if w.Code != tc.code || w.Header().Get("Location") != tc.location {
				t.Fatalf("%d %q, want %d %q", w.Code, w.Header().Get("Location"), tc.code, tc.location)
			}
		})
	}
}

func TestForwardStart(t *testing.T) {
	n := &Node{ID: "a", members: map[string]Entry{
		"b": {NodeID: "b", HTTP: "http://10.0.0.2:8080", Pushes: []Push{{Path: "SN/1-0-0/normal-0"}}},
	}}
	var got string
	h := n.ForwardStart(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		w.WriteHeader(http.StatusCreated)
	})
	for _, tc := range []struct {
		name, body string
		code       int
	}{
		{"a push held elsewhere", `{"video_id":"SN/1-0-0/normal-0"}`, 307},
		{"a push held nowhere: started here, body intact", `{"video_id":"SN/2-0-0/normal-0"}`, 201},
		{"not JSON: left to the API to refuse", `{`, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = ""
			w := httptest.NewRecorder()
			h(w, httptest.NewRequest("POST", "/api/v1/live", strings.NewReader(tc.body)))
			if w.Code != tc.code {
				t.Fatalf("%d, want %d", w.Code, tc.code)
			}
			if tc.code == 307 && w.Header().Get("Location") != "http://10.0.0.2:8080/api/v1/live" {
				t.Fatalf("Location %q", w.Header().Get("Location"))
			}
			if tc.code == 201 && got != tc.body {
				t.Fatalf("the API got %q, want %q", got, tc.body)
			}
		})
	}
}

func TestRelaySource(t *testing.T) {
	for _, tc := range []struct {
		user, pass, want string
	}{
		{"", "", "rtsp://10.0.0.2:8554/SN/1-0-0/normal-0"},
		{"viewer", "s3cret", "rtsp://viewer:s3cret@10.0.0.2:8554/SN/1-0-0/normal-0"},
	} {
		rl := &Relays{ReadUser: tc.user, ReadPassword: tc.pass}
		if got := rl.source("rtsp://10.0.0.2:8554/", "SN/1-0-0/normal-0"); got != tc.want {
			t.Errorf("source = %q, want %q", got, tc.want)
		}
	}
}
