package control

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/skyrelay/skyrelay/control/broker"
)

// Pilot credentials: the Pilot 2 page hands the remote controller an
// account of the embedded broker that reaches only that controller's
// topics (and its aircraft's). They are held in memory: a restart revokes
// them all and the page mints new ones when it loads again.

const (
	pilotTTLDefault = 12 * time.Hour
	pilotTTLMax     = 7 * 24 * time.Hour
	maxSNLength     = 64
)

type pilotRequest struct {
	SN string `json:"sn"`
	// TTLSeconds bounds when the account may log in (default 12 h, at
	// most 7 days); a connected session is not cut off at expiry.
	TTLSeconds int `json:"ttl_seconds"`
}

type pilotCredentials struct {
	MQTTHost string    `json:"mqtt_host"`
	Username string    `json:"username"`
	Password string    `json:"password"`
	SN       string    `json:"sn"`
	Expires  time.Time `json:"expires"`
}

func (p api) apiMintPilot(w http.ResponseWriter, r *http.Request) {
	var req pilotRequest
	if aerr := readJSON(r, &req, false); aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	if req.SN == "" || len(req.SN) > maxSNLength || strings.ContainsAny(req.SN, "/+#*?[] \t\n") {
		writeError(w, http.StatusBadRequest, "bad_request", "sn must be a device serial number")
		return
	}
	ttl := pilotTTLDefault
	if req.TTLSeconds != 0 {
		ttl = time.Duration(req.TTLSeconds) * time.Second
		if req.TTLSeconds < 0 || ttl > pilotTTLMax {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("ttl_seconds must be between 1 and %d", int(pilotTTLMax/time.Second)))
			return
		}
	}
	e := p.embedded
	if e == nil {
		writeError(w, http.StatusConflict, "no_embedded_broker", "Pilot credentials are minted by the embedded broker; with an external broker (mqtt.broker) give Pilot an account of that broker")
		return
	}
	c, err := e.Mint(req.SN, ttl)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	p.log.Info("Pilot broker credentials minted", "sn", c.SN, "username", c.Username, "expires", c.Expires)
	writeJSON(w, http.StatusCreated, pilotCredentials{MQTTHost: p.pilotMQTTHost(r), Username: c.Username,
		Password: c.Password, SN: c.SN, Expires: c.Expires})
}

// MintPilotAccount mints embedded-broker credentials that reach only sn's
// topics, for the Pilot page (the same accounts as POST
// /api/v1/pilot/credentials, with the default lifetime).
func (p *Plane) MintPilotAccount(sn string) (user, password string, err error) {
	if p.embedded == nil {
		return "", "", fmt.Errorf("no embedded broker: Pilot needs an account of mqtt.broker")
	}
	c, err := p.embedded.Mint(sn, pilotTTLDefault)
	if err != nil {
		return "", "", err
	}
	p.log.Info("Pilot broker credentials minted", "sn", c.SN, "username", c.Username, "expires", c.Expires)
	return c.Username, c.Password, nil
}

func (p api) apiListPilot(w http.ResponseWriter, _ *http.Request) {
	items := []broker.MintedAccount{}
	if p.embedded != nil {
		items = p.embedded.Minted()
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (p api) apiRevokePilot(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	if p.embedded == nil || !p.embedded.Revoke(name) {
		writeError(w, http.StatusNotFound, "unknown_credentials", "no minted credentials with that username")
		return
	}
	p.log.Info("Pilot broker credentials revoked", "username", name)
	w.WriteHeader(http.StatusNoContent)
}

// pilotMQTTHost is the broker URL Pilot connects to: plain TCP when the
// embedded broker listens on it, else MQTT over TLS (ssl://, the form
// Pilot's client takes).
func (p api) pilotMQTTHost(r *http.Request) string {
	host := p.PublicHost
	if host == "" {
		host = r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
	}
	scheme, addr := "tcp", p.embedded.Addr()
	if addr == "" {
		scheme, addr = "ssl", p.embedded.TLSAddr()
	}
	_, port, _ := net.SplitHostPort(addr)
	return scheme + "://" + net.JoinHostPort(strings.Trim(host, "[]"), port)
}
