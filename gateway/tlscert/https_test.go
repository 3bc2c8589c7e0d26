package tlscert

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// net/http on the holder's listener: HTTP/2 and HTTP/1.1 over TLS, and a
// plain http:// request told in plain words that it reached an HTTPS port.
func TestHTTPSOnListener(t *testing.T) {
	ca := testpeer.NewTestCA(t)
	h := newHolder(t, ca, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	})}
	go srv.Serve(h.Listener("https", ln, "h2", "http/1.1"))
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	for _, h2 := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		res, err := (&http.Client{Transport: tr}).Get("https://localhost:" + addr[strings.LastIndexByte(addr, ':')+1:] + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		want := "HTTP/1.1"
		if h2 {
			want = "HTTP/2.0"
		}
		if string(b) != want {
			t.Fatalf("served %q, want %q", b, want)
		}
	}

	res, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "HTTPS") {
		t.Fatalf("plain HTTP on the HTTPS port: %d %q", res.StatusCode, b)
	}
	if n := h.Plaintext("https"); n != 1 {
		t.Fatalf("plain text counted %d, want 1", n)
	}
}
