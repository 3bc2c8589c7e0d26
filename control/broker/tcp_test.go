package broker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

func TestEndKind(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, endNormal},
		{io.EOF, endNormal},
		{fmt.Errorf("read connection: %w", io.EOF), endNormal},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, endNormal},
		{&net.OpError{Op: "write", Err: syscall.EPIPE}, endNormal},
		{fmt.Errorf("x: %w", net.ErrClosed), endNormal},
		{packets.ErrKeepAliveTimeout, endNormal},
		{packets.CodeDisconnect, endNormal},
		{packets.ErrBadUsernameOrPassword, endRefused},
		{packets.ErrNotAuthorized, endRefused},
		{packets.ErrMalformedPacket, endFault},
		{packets.ErrProtocolViolationNoPacketID, endFault},
		{fmt.Errorf("something else"), endFault},
	} {
		if got := endKind(c.err); got != c.want {
			t.Errorf("endKind(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// logSink collects log lines.
type logSink struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *logSink) lines(substr string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range strings.Split(s.b.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// awaitLines waits until n lines contain substr.
func (s *logSink) awaitLines(t *testing.T, substr string, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for d := time.Millisecond; len(s.lines(substr)) < n; d = min(2*d, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %d log lines with %q:\n%s", n, substr, strings.Join(s.lines(""), "\n"))
		}
		time.Sleep(d)
	}
}

// TestConnectionEndsAreQuiet: Mosquitto clients that disconnect cleanly or
// are killed (the kernel closes their TCP connection without DISCONNECT,
// as a device on a cellular link does) leave no warning; a refused login
// is an info line; garbage on the port is a warning that says what failed.
func TestConnectionEndsAreQuiet(t *testing.T) {
	sink := &logSink{}
	e := &Embedded{
		Config: conf.MQTTEmbedded{Listen: "127.0.0.1:0", Users: []conf.MQTTUser{{User: "dock", Password: "right-password"}}},
		Log:    slog.New(slog.NewTextHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if err := e.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	_, ps, _ := net.SplitHostPort(e.Addr())
	port, _ := strconv.Atoi(ps)
	base := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}

	// A clean publish and DISCONNECT.
	if out, err := testpeer.Command(t, "mosquitto_pub", append(base, "-t", "a/b", "-m", "x")...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	sink.awaitLines(t, "MQTT client connection closed", 1)

	// A subscriber killed: TCP closed without DISCONNECT.
	sub := testpeer.Start(t, "mosquitto_sub", append(base, "-d", "-t", "a/#")...)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := sub.WaitOutput(ctx, "SUBACK"); err != nil {
		t.Fatalf("mosquitto_sub: %v\n%s", err, sub.Output())
	}
	_ = sub.Kill()
	sink.awaitLines(t, "MQTT client connection closed", 2)

	// A wrong password from another host would be refused; from loopback
	// a named user still has to give the right one.
	_, _ = testpeer.Command(t, "mosquitto_pub", append(base, "-u", "dock", "-P", "wrong", "-t", "a/b", "-m", "x")...).CombinedOutput()
	sink.awaitLines(t, "MQTT client refused", 1)

	if w := sink.lines("level=WARN"); len(w) != 0 {
		t.Fatalf("warnings for ordinary connection ends:\n%s", strings.Join(w, "\n"))
	}

	// Garbage: a fault, said as one.
	c, err := net.Dial("tcp", e.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte{0x10, 0x03, 0xff, 0xff, 0xff})
	sink.awaitLines(t, "level=WARN", 1)
	_ = c.Close()
	for _, l := range sink.lines("level=WARN") {
		if !strings.Contains(l, `msg="MQTT client connection failed"`) || !strings.Contains(l, "error=") {
			t.Errorf("a warning without a message or an error: %s", l)
		}
	}
}
