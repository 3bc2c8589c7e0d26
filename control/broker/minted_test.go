package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestMintedCredentials: credentials minted for RC1 log in, reach RC1's
// topics and no other's, are refused with a wrong password, and stop
// working (the connected client is dropped) once revoked.
func TestMintedCredentials(t *testing.T) {
	b := startACLBroker(t, conf.MQTTUser{User: "DOCK1", Password: "dock1-secret-pw"})
	c, err := b.e.Mint("RC1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Username, "pilot-RC1-") || len(c.Password) < 32 || time.Until(c.Expires) < 59*time.Minute {
		t.Fatalf("minted %+v", MintedAccount{Username: c.Username, SN: c.SN, Expires: c.Expires})
	}
	other, err := b.e.Mint("RC1", time.Hour)
	if err != nil || other.Username == c.Username || other.Password == c.Password {
		t.Fatalf("a second mint repeated the first: %v", err)
	}

	if out, err := b.client(t, "mosquitto_pub", "mqttv5", c.Username, c.Password, "-q", "1", "-t", "thing/product/RC1/osd", "-m", "rc"); err != nil {
		t.Fatalf("minted publish: %v\n%s", err, out)
	}
	b.await(t, "thing/product/RC1/osd=rc")
	out, _ := b.client(t, "mosquitto_pub", "mqttv5", c.Username, c.Password, "-q", "1", "-t", "thing/product/DOCK1/osd", "-m", "forged")
	if !strings.Contains(out, "RC:135") {
		t.Fatalf("a minted account published to another SN:\n%s", out)
	}
	out, _ = b.client(t, "mosquitto_sub", "mqttv311", c.Username, c.Password, "-W", "5", "-E", "-t", "thing/product/DOCK1/services")
	if !strings.Contains(out, "Subscribed (mid: 1): 128") {
		t.Fatalf("a minted account subscribed to another SN:\n%s", out)
	}
	if _, err := b.client(t, "mosquitto_pub", "mqttv5", c.Username, other.Password, "-t", "thing/product/RC1/osd", "-m", "x"); err == nil {
		t.Fatal("a minted account logged in with another account's password")
	}

	ctx := testpeer.Context(t, 15*time.Second)
	sub := testpeer.Start(t, "mosquitto_sub", "-h", "127.0.0.1", "-p", b.port, "-V", "mqttv5", "-d",
		"-u", c.Username, "-P", c.Password, "-t", "thing/product/RC1/services")
	if _, err := sub.WaitOutput(ctx, "Subscribed (mid: 1): 0"); err != nil {
		t.Fatal(err)
	}
	if len(b.e.Minted()) != 2 {
		t.Fatalf("listed %+v", b.e.Minted())
	}
	if !b.e.Revoke(c.Username) || b.e.Revoke(c.Username) {
		t.Fatal("Revoke must succeed once")
	}
	select {
	case <-sub.Exited():
	case <-ctx.Done():
		t.Fatalf("the revoked account's subscriber stayed connected:\n%s", sub.Output())
	}
	if _, err := b.client(t, "mosquitto_pub", "mqttv5", c.Username, c.Password, "-t", "thing/product/RC1/osd", "-m", "x"); err == nil {
		t.Fatal("a revoked account logged in")
	}
	if l := b.e.Minted(); len(l) != 1 || l[0].Username != other.Username {
		t.Fatalf("after revoke listed %+v", l)
	}
	for _, l := range b.sink.lines("") {
		if strings.Contains(l, c.Password) || strings.Contains(l, other.Password) {
			t.Fatalf("a minted password in the log: %s", l)
		}
	}
}

// TestMintedExpiry: an expired account no longer logs in, is not listed
// and is dropped when the next one is minted.
func TestMintedExpiry(t *testing.T) {
	m := newMintedUsers()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	c, err := m.mint("RC1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !m.authenticate(c.Username, []byte(c.Password)) {
		t.Fatal("a fresh account was refused")
	}
	if m.authenticate(c.Username, []byte(c.Password+"x")) || m.authenticate("DOCK1", []byte(c.Password)) {
		t.Fatal("a wrong password or a non-minted name was accepted")
	}
	now = now.Add(time.Minute)
	if m.authenticate(c.Username, []byte(c.Password)) {
		t.Fatal("an expired account logged in")
	}
	if len(m.list()) != 0 {
		t.Fatalf("expired account listed: %+v", m.list())
	}
	if _, err := m.mint("RC2", time.Minute); err != nil {
		t.Fatal(err)
	}
	if m.access(c.Username) != nil {
		t.Fatal("the expired account was kept after the next mint")
	}
}
