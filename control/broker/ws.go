package broker

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// wsListener is MQTT over WebSocket on any path (DJI's demo uses /mqtt;
// Pilot 2 is given the full ws:// URL, so the path is whatever the operator
// typed). It binds in Init, unlike mochi's own WebSocket listener, so a busy
// port fails start-up and ":0" reports the port it got.
type wsListener struct {
	id      string
	address string
	ln      net.Listener
	srv     *http.Server
	log     *slog.Logger
	end     atomic.Bool

	mu        sync.Mutex
	establish listeners.EstablishFn
}

var _ listeners.Listener = (*wsListener)(nil)

func (l *wsListener) ID() string       { return l.id }
func (l *wsListener) Protocol() string { return "ws" }

func (l *wsListener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.address
}

func (l *wsListener) Init(log *slog.Logger) error {
	l.log = log
	ln, err := net.Listen("tcp", l.address)
	if err != nil {
		return err
	}
	l.ln = ln
	up := &websocket.Upgrader{
		Subprotocols: []string{"mqtt"},
		// Devices and the Pilot webview are not browsers on our origin.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	l.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l.mu.Lock()
			establish := l.establish
			l.mu.Unlock()
			if establish == nil {
				http.Error(w, "starting", http.StatusServiceUnavailable)
				return
			}
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return // the upgrader has answered
			}
			defer c.Close()
			conn := &wsConn{Conn: c.UnderlyingConn(), c: c}
			if proxied(r) {
				// Behind a proxy the socket's peer is the proxy, often on
				// loopback; never let that pass for a local client.
				conn.remote = forwardedAddr(r.RemoteAddr)
			}
			if err := establish(l.id, conn); err != nil && !l.end.Load() {
				l.log.Debug("websocket client ended", "error", err)
			}
		}),
	}
	return nil
}

func (l *wsListener) Serve(establish listeners.EstablishFn) {
	l.mu.Lock()
	l.establish = establish
	l.mu.Unlock()
	if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !l.end.Load() {
		l.log.Error("websocket listener failed", "error", err)
	}
}

func (l *wsListener) Close(closeClients listeners.CloseFn) {
	if l.end.CompareAndSwap(false, true) && l.srv != nil {
		// Serve may not have run yet: closing the listener too makes sure
		// the port is released either way.
		_ = l.srv.Close()
		_ = l.ln.Close()
	}
	closeClients(l.id)
}

func proxied(r *http.Request) bool {
	return r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" || r.Header.Get("X-Real-Ip") != ""
}

// forwardedAddr is the address of a proxied client: never loopback.
type forwardedAddr string

func (a forwardedAddr) Network() string { return "tcp" }
func (a forwardedAddr) String() string  { return "proxied-via-" + string(a) }

// wsConn turns a WebSocket into the byte stream mochi reads MQTT packets
// from; MQTT packets may span WebSocket messages and vice versa.
type wsConn struct {
	net.Conn
	c      *websocket.Conn
	r      io.Reader
	remote net.Addr
	wmu    sync.Mutex
}

func (ws *wsConn) RemoteAddr() net.Addr {
	if ws.remote != nil {
		return ws.remote
	}
	return ws.Conn.RemoteAddr()
}

func (ws *wsConn) Read(p []byte) (int, error) {
	for {
		if ws.r == nil {
			op, r, err := ws.c.NextReader()
			if err != nil {
				return 0, err
			}
			if op != websocket.BinaryMessage {
				return 0, errors.New("websocket: MQTT needs binary messages")
			}
			ws.r = r
		}
		n, err := ws.r.Read(p)
		if errors.Is(err, io.EOF) {
			ws.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (ws *wsConn) Write(p []byte) (int, error) {
	ws.wmu.Lock()
	defer ws.wmu.Unlock()
	if err := ws.c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (ws *wsConn) Close() error { return ws.c.Close() }
