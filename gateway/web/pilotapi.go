package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sync"

	"github.com/skyrelay/skyrelay/gateway"
)

// PilotAPI answers POST /api/v1/pilot/session for the /pilot/ page: what
// one remote controller's Pilot 2 needs to join this gateway. It sits
// behind the API's guard (loopback, or auth.api_token), so the page on the
// controller is opened as /pilot/?token=....
type PilotAPI struct {
	// AppID, AppKey and License go to platformVerifyLicense.
	AppID, AppKey, License string
	// MQTTHost is the broker URL Pilot connects to (thing's host).
	MQTTHost string
	// Accounts are the embedded broker's users; the one that may act for
	// the controller's SN is handed to it.
	Accounts []PilotAccount
	// MintAccount, when set (the embedded broker), mints an account that
	// reaches only the controller's own topics; it is preferred to a
	// wildcard account, so a controller never gets more than it needs.
	MintAccount func(sn string) (PilotAccount, error)
	// Fallback is handed out when no account names the SN (pilot.mqtt_*).
	Fallback PilotAccount
	// Anonymous: the broker admits clients without a credential.
	Anonymous bool
	// RTMPBase is rtmp://public_host:port.
	RTMPBase string
	// Mint returns a per-push secret for path (authz.Auth.Mint).
	Mint func(path string) (secret string, revoke func())
	Log  *slog.Logger

	mu      sync.Mutex
	revokes map[string]func() // rc SN -> revoke of the secret last handed out
}

// PilotAccount is a broker user and the gateway SNs it may act for (empty:
// the user name is the SN; "*": any).
type PilotAccount struct {
	User, Password string
	Gateways       []string
}

// PilotSession is the answer: the JSBridge parameters, ready to pass on.
type PilotSession struct {
	License struct {
		AppID   string `json:"app_id"`
		AppKey  string `json:"app_key"`
		License string `json:"license"`
	} `json:"license"`
	Thing struct {
		Host     string `json:"host"`
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"thing"`
	Live struct {
		Type int    `json:"type"` // JSBridge type code: 2 is RTMP
		URL  string `json:"url"`  // carries a per-push secret
		Path string `json:"path"`
		Page string `json:"page"`
	} `json:"live"`
}

// rcSN is what a controller serial number may look like (DJI SNs are 14
// to 20 upper-case letters and digits; be lenient, never allow a slash).
var rcSN = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ServeHTTP answers POST {"rc_sn": "..."}.
func (a *PilotAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		gateway.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "POST {\"rc_sn\": ...}")
		return
	}
	var req struct {
		RCSN string `json:"rc_sn"`
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err := json.Unmarshal(b, &req); err != nil {
		gateway.WriteError(w, http.StatusBadRequest, "bad_request", "the body must be {\"rc_sn\": \"...\"}")
		return
	}
	if !rcSN.MatchString(req.RCSN) {
		gateway.WriteError(w, http.StatusBadRequest, "bad_request", "rc_sn must be 1 to 64 letters, digits, - or _")
		return
	}
	var s PilotSession
	s.License.AppID, s.License.AppKey, s.License.License = a.AppID, a.AppKey, a.License
	acc, ok := a.account(req.RCSN)
	if !ok {
		gateway.WriteError(w, http.StatusConflict, "no_broker_account",
			"no broker account may act for the remote controller "+req.RCSN+
				": add one to mqtt.embedded.users with gateways: ["+req.RCSN+"], or set pilot.mqtt_username")
		return
	}
	s.Thing.Host, s.Thing.Username, s.Thing.Password = a.MQTTHost, acc.User, acc.Password
	path := "pilot/" + req.RCSN
	secret, revoke := a.Mint(path)
	a.mu.Lock()
	if a.revokes == nil {
		a.revokes = map[string]func(){}
	}
	// One live URL per controller: a reloaded page makes the old one void.
	if old := a.revokes[req.RCSN]; old != nil {
		old()
	}
	a.revokes[req.RCSN] = revoke
	a.mu.Unlock()
	s.Live.Type = 2
	s.Live.URL = a.RTMPBase + "/" + path + "?secret=" + url.QueryEscape(secret)
	s.Live.Path = path
	s.Live.Page = "/" + path + "/"
	if a.Log != nil {
		a.Log.Info("pilot session", "rc_sn", req.RCSN, "path", path) // never the secret
	}
	gateway.WriteJSON(w, http.StatusOK, s)
}

// account picks the broker account for sn, from the most to the least
// specific: a configured account that names sn; the shared account the
// operator set (pilot.mqtt_*); one minted for sn alone (embedded broker);
// a wildcard account; none (anonymous broker).
func (a *PilotAPI) account(sn string) (PilotAccount, bool) {
	for _, u := range a.Accounts {
		if (len(u.Gateways) == 0 && u.User == sn) || slices.Contains(u.Gateways, sn) {
			return u, true
		}
	}
	if a.Fallback.User != "" {
		return a.Fallback, true
	}
	if a.MintAccount != nil {
		acc, err := a.MintAccount(sn)
		if err == nil {
			return acc, true
		}
		if a.Log != nil {
			a.Log.Warn("pilot: cannot mint a broker account", "rc_sn", sn, "error", err)
		}
	}
	for _, u := range a.Accounts {
		if slices.Contains(u.Gateways, "*") {
			return u, true
		}
	}
	return PilotAccount{}, a.Anonymous
}

// Close voids every secret handed out.
func (a *PilotAPI) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.revokes {
		r()
	}
	a.revokes = nil
}
