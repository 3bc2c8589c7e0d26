package cascade

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
)

// Cascade runs every configured upstream: the component the binary wires.
type Cascade struct {
	Upstreams []UpstreamConfig
	// LocalID is the default id we register with (gb28181.server_id).
	LocalID string
	// ListenHost is the interface the SIP and media sockets bind (from
	// gb28181.sip_listen); PublicHost the address upstreams reach us on.
	ListenHost, PublicHost string

	Hub       *gateway.Hub
	Devices   ChannelSource
	Starter   Starter
	Positions PositionSource
	Log       *slog.Logger

	ups []*Upstream
}

// Initialize starts every upstream; one that fails to start stops the
// ones already started.
func (c *Cascade) Initialize() error {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	names := map[string]bool{}
	for _, cfg := range c.Upstreams {
		if names[cfg.Name] {
			c.Close()
			return errors.New("cascade: two upstreams named " + cfg.Name)
		}
		names[cfg.Name] = true
		if cfg.LocalID == "" {
			cfg.LocalID = c.LocalID
		}
		u := &Upstream{UpstreamConfig: cfg, SIPListen: joinHost(c.ListenHost), PublicHost: c.PublicHost,
			Hub: c.Hub, Devices: c.Devices, Starter: c.Starter, Positions: c.Positions, Log: c.Log.With("component", "gb28181-cascade")}
		if err := u.Initialize(); err != nil {
			c.Close()
			return err
		}
		c.ups = append(c.ups, u)
	}
	return nil
}

func joinHost(h string) string {
	if h == "" {
		return ":0"
	}
	if h[0] != '[' && containsColon(h) {
		return "[" + h + "]:0"
	}
	return h + ":0"
}

func containsColon(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return true
		}
	}
	return false
}

// Close unregisters from every upstream.
func (c *Cascade) Close() {
	for _, u := range c.ups {
		u.Close()
	}
	c.ups = nil
}

// Upstreams of a running cascade, in configuration order.
func (c *Cascade) Running() []*Upstream { return c.ups }

// UpstreamInfo is one item of GET /api/v1/gb28181/upstreams.
type UpstreamInfo struct {
	Name          string     `json:"name"`
	Address       string     `json:"address"`
	Transport     string     `json:"transport"`
	ServerID      string     `json:"server_id"`
	LocalID       string     `json:"local_id"`
	Contact       string     `json:"contact"` // where the upstream sends its requests
	State         string     `json:"state"`
	Error         string     `json:"error,omitempty"`
	RegisteredAt  *time.Time `json:"registered_at,omitempty"`
	LastKeepalive *time.Time `json:"last_keepalive,omitempty"` // when the upstream last answered a keepalive
	KeepaliveCode int        `json:"last_keepalive_code,omitempty"`
	Channels      []Channel  `json:"channels"`
	Sessions      []Session  `json:"sessions"`
	Subscriptions int        `json:"subscriptions"`
}

// Info describes the upstream for the API.
func (u *Upstream) Info() UpstreamInfo {
	c := u.contactURI()
	in := UpstreamInfo{Name: u.Name, Address: u.Address, Transport: u.Transport, ServerID: u.ServerID, LocalID: u.gwID,
		Contact: c.String(), Channels: u.ChannelList(), Sessions: u.Sessions()}
	u.mu.Lock()
	in.State, in.Error, in.KeepaliveCode, in.Subscriptions = u.state, u.lastErr, u.lastKACode, len(u.subs)
	if !u.regAt.IsZero() && u.state == StateRegistered {
		t := u.regAt
		in.RegisteredAt = &t
	}
	if !u.lastKA.IsZero() {
		t := u.lastKA
		in.LastKeepalive = &t
	}
	u.mu.Unlock()
	return in
}

// Handler serves GET /api/v1/gb28181/upstreams: {"items":[...]}. Mount it
// behind the API's authentication: it lists ids and addresses.
func (c *Cascade) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			gateway.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
			return
		}
		items := make([]UpstreamInfo, 0, len(c.ups))
		for _, u := range c.ups {
			items = append(items, u.Info())
		}
		w.Header().Set("Cache-Control", "no-store")
		gateway.WriteJSON(w, http.StatusOK, struct {
			Items []UpstreamInfo `json:"items"`
		}{items})
	})
}
