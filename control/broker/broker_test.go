package broker

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		filter, topic string
		want          bool
	}{
		{"thing/product/+/osd", "thing/product/SN1/osd", true},
		{"thing/product/+/osd", "thing/product/SN1/state", false},
		{"thing/product/+/osd", "thing/product/osd", false},
		{"thing/product/+/property/set_reply", "thing/product/SN/property/set_reply", true},
		{"thing/#", "thing/product/SN/osd", true},
		{"thing/#", "thing", true},
		{"#", "a/b", true},
		{"a/+", "a/", true},
		{"a/+", "a", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
	} {
		if got := Match(c.filter, c.topic); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

func startEmbedded(t *testing.T) (*Embedded, int) {
	t.Helper()
	e := &Embedded{Config: conf.MQTTEmbedded{Listen: "127.0.0.1:0"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := e.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	_, ps, err := net.SplitHostPort(e.Addr())
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(ps)
	return e, port
}

// TestEmbeddedPacketLimit: a message of half a megabyte passes, one over
// the 1 MB bound is refused (mosquitto_pub sees its connection closed) and
// never delivered, and the broker goes on serving.
func TestEmbeddedPacketLimit(t *testing.T) {
	for _, v := range []string{"mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) {
			e, port := startEmbedded(t)
			got := make(chan int, 8)
			if err := e.Subscribe([]string{"big/#"}, func(_ string, p []byte) { got <- len(p) }); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			pub := func(size int) error {
				f := filepath.Join(dir, strconv.Itoa(size))
				if err := os.WriteFile(f, []byte(strings.Repeat("x", size)), 0o644); err != nil {
					t.Fatal(err)
				}
				out, err := testpeer.Command(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-V", v,
					"-q", "1", "-t", "big/x", "-f", f).CombinedOutput()
				if err != nil {
					return fmt.Errorf("%v: %s", err, out)
				}
				return nil
			}
			if err := pub(512 << 10); err != nil {
				t.Fatalf("512 kB: %v", err)
			}
			if n := <-got; n != 512<<10 {
				t.Fatalf("delivered %d bytes", n)
			}
			if err := pub(maxPacketSize + 1); err == nil {
				t.Fatal("a message over the packet limit was accepted")
			}
			if err := pub(10); err != nil {
				t.Fatalf("after the refused one: %v", err)
			}
			select {
			case n := <-got:
				if n != 10 {
					t.Fatalf("delivered %d bytes, want only the 10-byte message", n)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the broker stopped delivering after an oversized packet")
			}
		})
	}
}

// TestEmbeddedNeverRetains: what the plane publishes is delivered to a
// device subscribed at the time and not stored for a later subscriber.
func TestEmbeddedNeverRetains(t *testing.T) {
	e, port := startEmbedded(t)
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-V", "mqttv5", "-d", "-q", "1", "-F", "MSG %r %p", "-t", "thing/product/SN/services"}
	live := testpeer.Start(t, "mosquitto_sub", args...)
	ctx := testpeer.Context(t, 15*time.Second)
	if _, err := live.WaitOutput(ctx, "SUBACK"); err != nil {
		t.Fatal(err)
	}
	if err := e.Publish(ctx, "thing/product/SN/services", []byte(`{"method":"live_start_push"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := live.WaitOutput(ctx, `MSG 0 {"method":"live_start_push"}`); err != nil {
		t.Fatal(err)
	}
	later := testpeer.Start(t, "mosquitto_sub", args...)
	if _, err := later.WaitOutput(ctx, "SUBACK"); err != nil {
		t.Fatal(err)
	}
	if err := e.Publish(ctx, "thing/product/SN/services", []byte(`{"sentinel":1}`)); err != nil {
		t.Fatal(err)
	}
	line, err := later.WaitOutput(ctx, "MSG ")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, `MSG 0 {"sentinel":1}`) {
		t.Fatalf("a later subscriber first got %q: a command was retained", line)
	}
}
