package gateway

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/skyrelay/skyrelay/gateway/tlscert"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// recordingHandler answers 201 and remembers the paths it was asked for.
type recordingHandler struct {
	mu    sync.Mutex
	paths []string
}

func (h *recordingHandler) ServePath(w http.ResponseWriter, r *http.Request, path, rest string) {
	h.mu.Lock()
	h.paths = append(h.paths, r.Method+" "+path+" "+rest)
	h.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

func (h *recordingHandler) last() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.paths) == 0 {
		return ""
	}
	return h.paths[len(h.paths)-1]
}

// The same routes over HTTP and HTTPS, and SRS's WHIP form routed as a
// WHIP publish of app/stream.
func TestHTTPServerTLSAndSRSWHIP(t *testing.T) {
	ca := testpeer.NewTestCA(t)
	h := &tlscert.Holder{CertFile: ca.CertFile, KeyFile: ca.KeyFile}
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	whip := &recordingHandler{}
	s := &HTTPServer{Address: "127.0.0.1:0", TLSAddress: "127.0.0.1:0", TLS: h, WHIP: whip}
	s.Mux = http.NewServeMux()
	s.Mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	plain := "http://" + s.Addr().String()
	_, port, _ := strings.Cut(s.TLSAddr().String(), ":")
	secure := "https://localhost:" + port
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, ForceAttemptHTTP2: true}}

	for _, base := range []string{plain, secure} {
		res, err := client.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s/healthz: %d", base, res.StatusCode)
		}
		if base == secure && res.ProtoMajor != 2 {
			t.Fatalf("HTTPS spoke %s, want HTTP/2", res.Proto)
		}
		for _, tc := range []struct {
			url    string
			status int
			routed string
		}{
			{"/rtc/v1/whip/?app=live&stream=a&secret=s", 201, "POST live/a "},
			{"/rtc/v1/whip?app=1581FDEMO0000000AA01&stream=99-0-0%2Fnormal-0", 201, "POST 1581FDEMO0000000AA01/99-0-0/normal-0 "},
			{"/rtc/v1/whip/?app=live", 400, ""},
			{"/rtc/v1/whip/?app=..&stream=a", 400, ""},
			{"/live/b/whip", 201, "POST live/b "},
		} {
			before := whip.last()
			res, err := client.Post(base+tc.url, "application/sdp", strings.NewReader("v=0"))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("%s%s: %d, want %d", base, tc.url, res.StatusCode, tc.status)
			}
			if tc.routed != "" && whip.last() != tc.routed {
				t.Fatalf("%s%s routed as %q, want %q", base, tc.url, whip.last(), tc.routed)
			}
			if tc.routed == "" && whip.last() != before {
				t.Fatalf("%s%s reached the WHIP handler", base, tc.url)
			}
		}
	}
	// Plain HTTP on the HTTPS port.
	res, err := http.Get("http://" + s.TLSAddr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || h.Plaintext("https") != 1 {
		t.Fatalf("plain text on HTTPS: %d, counted %d", res.StatusCode, h.Plaintext("https"))
	}
}
