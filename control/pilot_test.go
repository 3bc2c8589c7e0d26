package control

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"net/http/httptest"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestPilotCredentials: the API mints broker credentials for one remote
// controller; mosquitto_pub with them reaches that SN's topics and is
// refused (PUBACK 0x87, counted) on another's; the list never shows a
// password; DELETE revokes them.
func TestPilotCredentials(t *testing.T) {
	testpeer.Require(t, "mosquitto_pub")
	tp := startPlane(t, embeddedConfig(), fastConfig())

	var c pilotCredentials
	if code := tp.do(t, "POST", "/api/v1/pilot/credentials", `{"sn":"RC1","ttl_seconds":600}`, &c); code != http.StatusCreated {
		t.Fatalf("mint: %d", code)
	}
	if want := fmt.Sprintf("tcp://127.0.0.1:%d", tp.port(t)); c.MQTTHost != want || c.SN != "RC1" || c.Username == "" || c.Password == "" {
		t.Fatalf("minted %+v, want mqtt_host %s", c, want)
	}
	if d := time.Until(c.Expires); d < 9*time.Minute || d > 10*time.Minute {
		t.Fatalf("expires in %v, asked for 10 minutes", d)
	}

	pub := func(user, password, topic string) string {
		out, _ := testpeer.Command(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(tp.port(t)), "-V", "mqttv5", "-d",
			"-u", user, "-P", password, "-q", "1", "-t", topic, "-m", `{"data":{}}`).CombinedOutput()
		return string(out)
	}
	if out := pub(c.Username, c.Password, "thing/product/RC1/osd"); !strings.Contains(out, "RC:0") {
		t.Fatalf("own topic refused:\n%s", out)
	}
	if out := pub(c.Username, c.Password, "thing/product/DOCK1/osd"); !strings.Contains(out, "RC:135") {
		t.Fatalf("another SN's topic accepted:\n%s", out)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(tp.Collectors()...)
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `skyrelay_mqtt_acl_refused_total{action="publish"} 1`; !strings.Contains(rec.Body.String(), want) {
		t.Fatalf("metrics lack %s:\n%s", want, rec.Body.String())
	}

	var list struct {
		Items []map[string]any `json:"items"`
	}
	if code := tp.do(t, "GET", "/api/v1/pilot/credentials", "", &list); code != 200 || len(list.Items) != 1 || list.Items[0]["username"] != c.Username {
		t.Fatalf("list: %d %+v", code, list)
	}
	if _, ok := list.Items[0]["password"]; ok {
		t.Fatal("the list shows a password")
	}

	if code := tp.do(t, "DELETE", "/api/v1/pilot/credentials/"+c.Username, "", nil); code != http.StatusNoContent {
		t.Fatalf("revoke: %d", code)
	}
	if code := tp.do(t, "DELETE", "/api/v1/pilot/credentials/"+c.Username, "", nil); code != http.StatusNotFound {
		t.Fatalf("revoke twice: %d", code)
	}
	if out := pub(c.Username, c.Password, "thing/product/RC1/osd"); strings.Contains(out, "RC:0") {
		t.Fatalf("revoked credentials still publish:\n%s", out)
	}

	for _, body := range []string{`{}`, `{"sn":"RC/1"}`, `{"sn":"+"}`, `{"sn":"RC*"}`, `{"sn":"RC1","ttl_seconds":-1}`,
		`{"sn":"RC1","ttl_seconds":99999999}`, `{"sn":"RC1","extra":1}`, `not json`} {
		if code := tp.do(t, "POST", "/api/v1/pilot/credentials", body, nil); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", body, code)
		}
	}
}

// TestPilotCredentialsExternalBroker: with an external broker there is
// nothing to mint on; the API says so.
func TestPilotCredentialsExternalBroker(t *testing.T) {
	b := testpeer.Mosquitto(t)
	m := embeddedConfig()
	m.Broker = b.URL()
	tp := startPlane(t, m, fastConfig())
	var e apiErr
	if code := tp.do(t, "POST", "/api/v1/pilot/credentials", `{"sn":"RC1"}`, &e); code != http.StatusConflict || e.Error.Code != "no_embedded_broker" {
		t.Fatalf("%d %+v", code, e)
	}
}
