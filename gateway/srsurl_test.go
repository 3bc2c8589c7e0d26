package gateway

import (
	"net/url"
	"strings"
	"testing"
)

func TestSRSStreamPath(t *testing.T) {
	for _, tc := range []struct {
		query, want string
	}{
		{"app=live&stream=a", "live/a"},
		{"app=1581FDEMO0000000AA01&stream=99-0-0%2Fnormal-0&secret=s", "1581FDEMO0000000AA01/99-0-0/normal-0"},
		{"app=1581FDEMO0000000AA01&stream=99-0-0/normal-0", "1581FDEMO0000000AA01/99-0-0/normal-0"},
		{"stream=a&app=live&eip=1.2.3.4", "live/a"},
		{"app=/live/&stream=/a/", "live/a"},
		{"app=live", ""},
		{"stream=a", ""},
		{"", ""},
		{"app=..&stream=a", ""},
		{"app=live&stream=a%20b", ""},
		{"app=live&stream=a//b", ""},
	} {
		q, _ := url.ParseQuery(tc.query)
		got, err := SRSStreamPath(q)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q: accepted as %q", tc.query, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.query, got, err, tc.want)
		}
	}
}

// A minted URL goes round: its path holds /rtc/v1/whip/ (what DJI firmware
// checks) and its query names the path it was minted for.
func TestSRSWHIPURLRoundTrip(t *testing.T) {
	for _, p := range []string{"live/a", "1581FDEMO0000000AA01/99-0-0/normal-0"} {
		raw, ok := SRSWHIPURL("http://192.0.2.1:8080/", p, url.Values{"secret": {"s3cr&t=x"}})
		if !ok {
			t.Fatalf("%s: no URL", p)
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if u.Path != SRSWHIPPath || !strings.Contains(raw, "/rtc/v1/whip/?app=") {
			t.Fatalf("%s: %s", p, raw)
		}
		back, err := SRSStreamPath(u.Query())
		if err != nil || back != p {
			t.Fatalf("%s: minted %s, read back %q (%v)", p, raw, back, err)
		}
		if u.Query().Get("secret") != "s3cr&t=x" {
			t.Fatalf("secret lost in %s", raw)
		}
	}
	if _, ok := SRSWHIPURL("http://h", "single", nil); ok {
		t.Fatal("a one-segment path got an SRS URL")
	}
}
