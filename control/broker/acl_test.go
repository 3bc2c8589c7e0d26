package broker

import (
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// aclBroker is an embedded broker with two dock accounts whose plane
// side (the inline client) records every device message it receives.
type aclBroker struct {
	e    *Embedded
	port string
	sink *logSink

	mu  sync.Mutex
	got []string // topic=payload as the gateway received them
	arr chan struct{}

	refusedPub, refusedRead int
}

func startACLBroker(t *testing.T, users ...conf.MQTTUser) *aclBroker {
	t.Helper()
	b := &aclBroker{sink: &logSink{}, arr: make(chan struct{}, 64)}
	b.e = &Embedded{
		Config: conf.MQTTEmbedded{Listen: "127.0.0.1:0", Users: users},
		Log:    slog.New(slog.NewTextHandler(b.sink, &slog.HandlerOptions{Level: slog.LevelInfo})),
		OnRefused: func(publish bool) {
			b.mu.Lock()
			defer b.mu.Unlock()
			if publish {
				b.refusedPub++
			} else {
				b.refusedRead++
			}
		},
	}
	if err := b.e.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.e.Close)
	_, b.port, _ = net.SplitHostPort(b.e.Addr())
	err := b.e.Subscribe([]string{"thing/product/+/osd", "sys/product/+/status"}, func(topic string, p []byte) {
		b.mu.Lock()
		b.got = append(b.got, topic+"="+string(p))
		b.mu.Unlock()
		b.arr <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *aclBroker) received() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.got...)
}

// await waits until the gateway received topic=payload.
func (b *aclBroker) await(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		for _, g := range b.received() {
			if g == want {
				return
			}
		}
		select {
		case <-b.arr:
		case <-timeout:
			t.Fatalf("the gateway never received %s; got %q", want, b.received())
		}
	}
}

// awaitRefused waits until the broker counted n refusals in all.
func (b *aclBroker) awaitRefused(t *testing.T, n uint64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for d := time.Millisecond; b.e.Refused() < n; d = min(2*d, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("refusals counted: %d, want %d", b.e.Refused(), n)
		}
		time.Sleep(d)
	}
}

func (b *aclBroker) client(t *testing.T, tool, version, user, password string, args ...string) (string, error) {
	t.Helper()
	base := []string{"-h", "127.0.0.1", "-p", b.port, "-V", version, "-d", "-u", user, "-P", password}
	out, err := testpeer.Command(t, tool, append(base, args...)...).CombinedOutput()
	return string(out), err
}

// TestDeviceACL: a dock's credentials publish and subscribe on its own
// topics; another dock's topics (and wildcards in the SN position) are
// refused over MQTT 3.1.1 and 5 with what each version can say, counted,
// logged once per account, and the gateway never receives the message.
func TestDeviceACL(t *testing.T) {
	testpeer.Require(t, "mosquitto_pub")
	for _, v := range []string{"mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) {
			b := startACLBroker(t,
				conf.MQTTUser{User: "DOCK1", Password: "dock1-secret-pw"},
				conf.MQTTUser{User: "DOCK2", Password: "dock2-secret-pw"})

			// Own topics: published and subscribed.
			if out, err := b.client(t, "mosquitto_pub", v, "DOCK1", "dock1-secret-pw", "-q", "1", "-t", "thing/product/DOCK1/osd", "-m", "own"); err != nil {
				t.Fatalf("own publish: %v\n%s", err, out)
			}
			b.await(t, "thing/product/DOCK1/osd=own")
			out, err := b.client(t, "mosquitto_sub", v, "DOCK1", "dock1-secret-pw", "-W", "5", "-E",
				"-t", "thing/product/DOCK1/services", "-t", "sys/product/DOCK1/status_reply")
			if err != nil || !strings.Contains(out, "Subscribed (mid: 1): 0, 0") {
				t.Fatalf("own subscription not granted: %v\n%s", err, out)
			}
			if b.e.Refused() != 0 {
				t.Fatalf("%d refusals for a dock on its own topics", b.e.Refused())
			}

			// Another's subscription, and a wildcard standing for any SN.
			want := map[string]string{"mqttv311": "128", "mqttv5": "135"}[v] // 0x80 failure; 0x87 not authorized
			for i, filter := range []string{"thing/product/DOCK2/services", "thing/product/+/services", "sys/#"} {
				out, _ := b.client(t, "mosquitto_sub", v, "DOCK1", "dock1-secret-pw", "-W", "5", "-E", "-t", filter)
				if !strings.Contains(out, "Subscribed (mid: 1): "+want) {
					t.Fatalf("subscription to %s: want SUBACK %s\n%s", filter, want, out)
				}
				b.awaitRefused(t, uint64(i+1))
			}

			// Another's publish: v5 is told (PUBACK 0x87); v3.1.1 has no
			// way to say it at QoS 0, so the message is dropped in silence.
			if v == "mqttv5" {
				out, _ := b.client(t, "mosquitto_pub", v, "DOCK1", "dock1-secret-pw", "-q", "1", "-t", "thing/product/DOCK2/osd", "-m", "forged")
				if !strings.Contains(out, "RC:135") {
					t.Fatalf("no PUBACK 135 for a forged publish:\n%s", out)
				}
			} else {
				if out, err := b.client(t, "mosquitto_pub", v, "DOCK1", "dock1-secret-pw", "-q", "0", "-t", "thing/product/DOCK2/osd", "-m", "forged"); err != nil {
					t.Fatalf("v3.1.1 QoS 0 publish: %v\n%s", err, out)
				}
			}
			b.awaitRefused(t, 4)
			if v == "mqttv311" {
				// At QoS 1 3.1.1 cannot refuse a publish but by closing.
				if out, err := b.client(t, "mosquitto_pub", v, "DOCK1", "dock1-secret-pw", "-q", "1", "-t", "thing/product/DOCK2/osd", "-m", "forged"); err == nil {
					t.Fatalf("v3.1.1 QoS 1 forged publish went through:\n%s", out)
				}
				b.awaitRefused(t, 5)
			}
			// The refusal is decided before delivery; a later message of
			// DOCK1 arriving proves the forged one was not merely late.
			if out, err := b.client(t, "mosquitto_pub", v, "DOCK1", "dock1-secret-pw", "-q", "1", "-t", "thing/product/DOCK1/osd", "-m", "after"); err != nil {
				t.Fatalf("own publish after: %v\n%s", err, out)
			}
			b.await(t, "thing/product/DOCK1/osd=after")
			for _, g := range b.received() {
				if strings.Contains(g, "forged") {
					t.Fatalf("the gateway received a forged message: %s", g)
				}
			}
			b.mu.Lock()
			pub, read := b.refusedPub, b.refusedRead
			b.mu.Unlock()
			wantPub := map[string]int{"mqttv311": 2, "mqttv5": 1}[v]
			if pub != wantPub || read != 3 {
				t.Fatalf("OnRefused saw %d publishes and %d reads, want %d and 3", pub, read, wantPub)
			}

			// DOCK2 is unaffected by DOCK1's attempts.
			if out, err := b.client(t, "mosquitto_pub", v, "DOCK2", "dock2-secret-pw", "-q", "1", "-t", "thing/product/DOCK2/osd", "-m", "real"); err != nil {
				t.Fatalf("DOCK2 publish: %v\n%s", err, out)
			}
			b.await(t, "thing/product/DOCK2/osd=real")

			if l := b.sink.lines("device refused a topic"); len(l) != 1 || !strings.Contains(l[0], "username=DOCK1") {
				t.Fatalf("want one refusal log line naming DOCK1, got %q", l)
			}
			if l := b.sink.lines("error processing packet"); len(l) != 0 {
				t.Fatalf("mochi's own line for a refusal was not dropped: %q", l)
			}
			for _, l := range b.sink.lines("secret-pw") {
				t.Fatalf("a password in the log: %s", l)
			}
		})
	}
}

// TestDeviceACLGatewayFullAccess: the gateway's own (inline) client
// publishes to any device, and a device receives commands on its topics.
func TestDeviceACLGatewayFullAccess(t *testing.T) {
	b := startACLBroker(t, conf.MQTTUser{User: "DOCK1", Password: "dock1-secret-pw"})
	ctx := testpeer.Context(t, 15*time.Second)
	sub := testpeer.Start(t, "mosquitto_sub", "-h", "127.0.0.1", "-p", b.port, "-V", "mqttv5", "-d",
		"-u", "DOCK1", "-P", "dock1-secret-pw", "-q", "1", "-F", "MSG %t %p", "-t", "thing/product/DOCK1/services")
	if _, err := sub.WaitOutput(ctx, "SUBACK"); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"thing/product/DOCK2/services", "thing/product/DOCK1/services"} {
		if err := b.e.Publish(ctx, topic, []byte("cmd")); err != nil {
			t.Fatalf("gateway publish to %s: %v", topic, err)
		}
	}
	if _, err := sub.WaitOutput(ctx, "MSG thing/product/DOCK1/services cmd"); err != nil {
		t.Fatal(err)
	}
	if n := b.e.Refused(); n != 0 {
		t.Fatalf("the gateway's own publishes were refused %d times", n)
	}
}

// TestDeviceACLGlob: a gateways entry with a glob admits every SN it
// matches and nothing else.
func TestDeviceACLGlob(t *testing.T) {
	h := newAuthHook([]conf.MQTTUser{{User: "fleet", Password: "x", Gateways: []string{"1581F5*", "DOCK9"}}}, false, nil)
	a := h.access["fleet"]
	for topic, want := range map[string]bool{
		"thing/product/1581F5ABC/osd":   true,
		"sys/product/1581F5/status":     true,
		"thing/product/DOCK9/services":  true,
		"thing/product/1581F6ABC/osd":   false,
		"thing/product/+/osd":           false,
		"thing/product/1581F5ABC":       false,
		"$SYS/broker/clients/connected": false,
	} {
		if got := h.topicAllowed(a, topic); got != want {
			t.Errorf("%s: allowed=%v, want %v", topic, got, want)
		}
	}
}

// BenchmarkTopicAllowed measures the rule on every device publish: an
// exact SN, a glob, and a minted account.
// Run: go test -run '^$' -bench BenchmarkTopicAllowed ./control/broker/
func BenchmarkTopicAllowed(b *testing.B) {
	h := newAuthHook([]conf.MQTTUser{
		{User: "DOCK1", Password: "x"},
		{User: "fleet", Password: "x", Gateways: []string{"1581F5*"}},
	}, false, nil)
	c, err := h.minted.mint("RC1", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, user, topic string }{
		{"exact", "DOCK1", "thing/product/DOCK1/osd"},
		{"glob", "fleet", "thing/product/1581F5ABC/osd"},
		{"minted", c.Username, "thing/product/RC1/osd"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if a := h.accessOf(tc.user); a == nil || !h.topicAllowed(a, tc.topic) {
					b.Fatal("refused")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/check")
		})
	}
}
