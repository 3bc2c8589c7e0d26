package web

import (
	"encoding/json"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/skyrelay/skyrelay/gateway/authz"
)

// TestPilotSessionAPI: the account handed to a controller is the one that
// may act for its SN; the push URL carries a secret the RTMP server
// accepts from the network for exactly that path, and a new session makes
// the previous secret void.
func TestPilotSessionAPI(t *testing.T) {
	auth := &authz.Auth{}
	a := &PilotAPI{AppID: "id", AppKey: "key", License: "lic", MQTTHost: "tcp://203.0.113.5:1883",
		Accounts: []PilotAccount{
			{User: "RCNAMED", Password: "p0"},
			{User: "fleet", Password: "p1", Gateways: []string{"RC1", "RC2"}},
			{User: "any", Password: "p2", Gateways: []string{"*"}},
		},
		RTMPBase: "rtmp://203.0.113.5:1935", Mint: auth.Mint, Log: testLog()}
	post := func(a *PilotAPI, method, body string) (int, PilotSession, string) {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(method, "/api/v1/pilot/session", strings.NewReader(body)))
		var s PilotSession
		_ = json.Unmarshal(rec.Body.Bytes(), &s)
		return rec.Code, s, rec.Body.String()
	}
	for _, c := range []struct {
		body   string
		status int
		user   string
	}{
		{`{"rc_sn":"RC1"}`, 200, "fleet"},
		{`{"rc_sn":"RCNAMED"}`, 200, "RCNAMED"},
		{`{"rc_sn":"OTHER"}`, 200, "any"},
		{`{"rc_sn":"../x"}`, 400, ""},
		{`{"rc_sn":""}`, 400, ""},
		{`not json`, 400, ""},
		{`{"rc_sn":"` + strings.Repeat("A", 65) + `"}`, 400, ""},
	} {
		code, s, body := post(a, "POST", c.body)
		if code != c.status || s.Thing.Username != c.user {
			t.Errorf("%s: %d user %q, want %d %q: %s", c.body, code, s.Thing.Username, c.status, c.user, body)
		}
	}
	if code, _, _ := post(a, "GET", ""); code != 405 {
		t.Errorf("GET = %d, want 405", code)
	}
	strict := &PilotAPI{Accounts: []PilotAccount{{User: "fleet", Password: "p", Gateways: []string{"RC1"}}}, Mint: auth.Mint}
	if code, _, body := post(strict, "POST", `{"rc_sn":"RC9"}`); code != 409 || !strings.Contains(body, "no_broker_account") {
		t.Errorf("no account: %d %s", code, body)
	}
	strict.Fallback = PilotAccount{User: "shared", Password: "s"}
	if code, s, _ := post(strict, "POST", `{"rc_sn":"RC9"}`); code != 200 || s.Thing.Username != "shared" {
		t.Errorf("fallback account: %d %q", code, s.Thing.Username)
	}
	// With the embedded broker, a controller no account names gets an
	// account minted for its SN alone rather than a wildcard one.
	minted := map[string]string{}
	a.MintAccount = func(sn string) (PilotAccount, error) {
		minted[sn] = "pilot-" + sn
		return PilotAccount{User: "pilot-" + sn, Password: "m", Gateways: []string{sn}}, nil
	}
	strict.MintAccount = a.MintAccount
	for _, c := range []struct {
		api      *PilotAPI
		sn, user string
	}{
		{a, "OTHER", "pilot-OTHER"}, // preferred to the "*" account
		{strict, "RC9", "shared"},   // the operator's pilot.mqtt_* account wins
		{a, "RC1", "fleet"},         // an account that names the SN wins
	} {
		if code, s, body := post(c.api, "POST", `{"rc_sn":"`+c.sn+`"}`); code != 200 || s.Thing.Username != c.user {
			t.Errorf("%s with minting: %d user %q, want %q: %s", c.sn, code, s.Thing.Username, c.user, body)
		}
	}
	if _, ok := minted["RC1"]; ok {
		t.Error("an account was minted for RC1, which a configured account names")
	}
	a.MintAccount, strict.MintAccount = nil, nil

	_, s1, _ := post(a, "POST", `{"rc_sn":"RC1"}`)
	if s1.License.AppID != "id" || s1.Thing.Host != "tcp://203.0.113.5:1883" || s1.Live.Type != 2 ||
		s1.Live.Path != "pilot/RC1" || !strings.HasPrefix(s1.Live.URL, "rtmp://203.0.113.5:1935/pilot/RC1?secret=") {
		t.Fatalf("session %+v", s1)
	}
	remote := &net.TCPAddr{IP: net.ParseIP("198.51.100.7"), Port: 40000}
	secret := func(s PilotSession) string { return s.Live.URL[strings.Index(s.Live.URL, "secret=")+7:] }
	if err := auth.CheckPublish("pilot/RC1", remote, authz.Credential{Token: secret(s1)}); err != nil {
		t.Fatalf("the minted secret is refused: %v", err)
	}
	if err := auth.CheckPublish("pilot/RC2", remote, authz.Credential{Token: secret(s1)}); err == nil {
		t.Fatal("the secret of pilot/RC1 opens pilot/RC2")
	}
	_, s2, _ := post(a, "POST", `{"rc_sn":"RC1"}`)
	if secret(s2) == secret(s1) {
		t.Fatal("a new session got the same secret")
	}
	if err := auth.CheckPublish("pilot/RC1", remote, authz.Credential{Token: secret(s1)}); err == nil {
		t.Fatal("the previous secret still works after a new session")
	}
	a.Close()
	if err := auth.CheckPublish("pilot/RC1", remote, authz.Credential{Token: secret(s2)}); err == nil {
		t.Fatal("secrets survive Close")
	}
}
