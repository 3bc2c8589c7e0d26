package gateway

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// PathHandler serves requests under one stream path: path is the stream
// path, rest what follows the endpoint (a WHEP session id, an HLS file).
type PathHandler interface {
	ServePath(w http.ResponseWriter, r *http.Request, path, rest string)
}

// HTTPServer is the one HTTP listener: API, WHEP, WHIP, HLS, pages,
// /metrics and /healthz. Output modules plug in as PathHandlers.
type HTTPServer struct {
	Address string
	// TLSAddress, with TLS, serves the same over HTTPS (http.tls_listen).
	TLSAddress string
	TLS        TLSListener
	// AllowOrigins lists CORS origins; empty allows any.
	AllowOrigins []string
	Log          *slog.Logger

	// Mux is the one router of fixed routes: every "/api/..." route,
	// "/metrics" and "/healthz".
	Mux *http.ServeMux

	WHEP, WHIP PathHandler // POST /P/whep, PATCH/DELETE /P/whep/ID
	HLS        PathHandler // /P/index.m3u8 and the files it names
	Page       PathHandler // /P/ and /

	ln, tlsLn net.Listener
	srv       *http.Server
}

// TLSListener turns a TCP listener into a TLS listener (tlscert.Holder).
type TLSListener interface {
	Listener(name string, inner net.Listener, nextProtos ...string) net.Listener
}

// Initialize listens; serving starts in the background.
func (s *HTTPServer) Initialize() error {
	if s.Mux == nil {
		s.Mux = http.NewServeMux()
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	ln, err := net.Listen("tcp", s.Address)
	if err != nil {
		return err
	}
	s.ln = ln
	if s.TLSAddress != "" && s.TLS != nil {
		tl, err := net.Listen("tcp", s.TLSAddress)
		if err != nil {
			ln.Close()
			return err
		}
		// HTTP/2 first: Apple's LL-HLS players expect it.
		s.tlsLn = s.TLS.Listener("https", tl, "h2", "http/1.1")
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(httpErrorLog{s.Log}, "", 0)}
	for _, l := range []net.Listener{s.ln, s.tlsLn} {
		if l == nil {
			continue
		}
		go func() {
			if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.Log.Error("http server", "err", err)
			}
		}()
	}
	return nil
}

// httpErrorLog passes net/http's own messages (a handler's panic) to the
// log, except TLS handshake failures: plain text and scanners on the HTTPS
// port are counted by the listener, and one line each would let anyone
// fill the log.
type httpErrorLog struct{ log *slog.Logger }

func (l httpErrorLog) Write(b []byte) (int, error) {
	msg := strings.TrimSpace(string(b))
	if !strings.Contains(msg, "TLS handshake error") {
		l.log.Warn("http server", "msg", msg)
	}
	return len(b), nil
}

// TLSAddr is the bound HTTPS address, nil without HTTPS.
func (s *HTTPServer) TLSAddr() net.Addr {
	if s.tlsLn == nil {
		return nil
	}
	return s.tlsLn.Addr()
}

// Addr is the bound address (useful with port 0).
func (s *HTTPServer) Addr() net.Addr { return s.ln.Addr() }

// Close stops the listener and ends open connections.
func (s *HTTPServer) Close() {
	if s.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
}

// ServeHTTP adds CORS and dispatches fixed routes, then stream endpoints.
func (s *HTTPServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.cors(w, r)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	p := r.URL.Path
	if p == "/metrics" || p == "/healthz" || strings.HasPrefix(p, "/api/") {
		s.Mux.ServeHTTP(w, r)
		return
	}
	if p == SRSWHIPPath || p+"/" == SRSWHIPPath {
		s.serveSRSWHIP(w, r)
		return
	}
	path, endpoint, rest := splitStreamURL(p)
	var h PathHandler
	switch endpoint {
	case "whep":
		h = s.WHEP
	case "whip":
		h = s.WHIP
	case "hls":
		h = s.HLS
	case "page":
		h = s.Page
	}
	if h == nil {
		WriteError(w, http.StatusNotFound, "not_found", "nothing here")
		return
	}
	if path != "" {
		if err := ValidPath(path); err != nil {
			WriteError(w, http.StatusBadRequest, "invalid_path", err.Error())
			return
		}
	}
	h.ServePath(w, r, path, rest)
}

// serveSRSWHIP is POST /rtc/v1/whip/?app=A&stream=S, a WHIP publish of
// A/S (SRS's form, which DJI Dock firmware requires); the session's
// Location is the usual /A/S/whip/ID.
func (s *HTTPServer) serveSRSWHIP(w http.ResponseWriter, r *http.Request) {
	if s.WHIP == nil {
		WriteError(w, http.StatusNotFound, "not_found", "WHIP ingest is off")
		return
	}
	path, err := SRSStreamPath(r.URL.Query())
	if err != nil {
		WriteError(w, http.StatusBadRequest, "invalid_path", err.Error())
		return
	}
	s.WHIP.ServePath(w, r, path, "")
}

// splitStreamURL splits /P/whep/ID, /P/index.m3u8, /P/ into path, endpoint
// and the rest. Paths have slashes, so the endpoint is found from the end.
func splitStreamURL(p string) (path, endpoint, rest string) {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return "", "page", ""
	}
	if strings.HasSuffix(p, "/") {
		return strings.TrimSuffix(p, "/"), "page", ""
	}
	segs := strings.Split(p, "/")
	for i := len(segs) - 1; i >= 1 && i >= len(segs)-2; i-- {
		if segs[i] == "whep" || segs[i] == "whip" {
			return strings.Join(segs[:i], "/"), segs[i], strings.Join(segs[i+1:], "/")
		}
	}
	last := segs[len(segs)-1]
	if len(segs) >= 2 && (strings.HasSuffix(last, ".m3u8") || strings.HasSuffix(last, ".mp4") || strings.HasSuffix(last, ".m4s")) {
		return strings.Join(segs[:len(segs)-1], "/"), "hls", last
	}
	return p, "page", "" // /P without the slash: the page redirects
}

func (s *HTTPServer) cors(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	allow := "*"
	if len(s.AllowOrigins) > 0 {
		allow = ""
		for _, o := range s.AllowOrigins {
			if o == origin || o == "*" {
				allow = origin
			}
		}
		if allow == "" {
			return
		}
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", allow)
	h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
	h.Set("Access-Control-Expose-Headers", "Location, Link, ETag, Accept-Patch")
}
