package sipstack

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/skyrelay/skyrelay/gb28181/siplog"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestInitialize binds UDP and TCP on one port, or says which side failed
// and leaves nothing open.
func TestInitialize(t *testing.T) {
	cases := []struct {
		name    string
		listen  func(t *testing.T) string // the Listen value, after taking what the case needs
		wantErr string                    // "" = binds
	}{
		{"ephemeral port", func(*testing.T) string { return "127.0.0.1:0" }, ""},
		{"given free port", func(t *testing.T) string { return "127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t)) }, ""},
		{"no port", func(*testing.T) string { return "127.0.0.1" }, "sip_listen"},
		{"port not a number", func(*testing.T) string { return "127.0.0.1:sip" }, "bad port"},
		{"port out of range", func(*testing.T) string { return "127.0.0.1:70000" }, "bad port"},
		{"UDP side taken", func(t *testing.T) string { return taken(t, "udp") }, "SIP over UDP"},
		{"TCP side taken", func(t *testing.T) string { return taken(t, "tcp") }, "SIP over TCP"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			listen := c.listen(t)
			s := &Stack{Listen: listen, Hostname: "3402000000", PublicHost: "127.0.0.1"}
			err := s.Initialize()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Initialize(%q) = %v, want an error with %q", listen, err, c.wantErr)
				}
				if c.name == "TCP side taken" {
					// The UDP socket bound before the TCP side failed is closed again.
					pc, err := net.ListenPacket("udp", listen)
					if err != nil {
						t.Fatalf("UDP port left bound after the failure: %v", err)
					}
					pc.Close()
				}
				return
			}
			if err != nil {
				t.Fatalf("Initialize(%q): %v", listen, err)
			}
			defer s.Close()
			if s.Port() <= 0 || !strings.HasSuffix(listen, ":0") && !strings.HasSuffix(listen, ":"+strconv.Itoa(s.Port())) {
				t.Fatalf("Port() = %d for Listen %q", s.Port(), listen)
			}
			if s.Host() != "127.0.0.1" || s.Server == nil || s.Client == nil {
				t.Fatalf("Host %q Server %v Client %v", s.Host(), s.Server, s.Client)
			}
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port()))
			if pc, err := net.ListenPacket("udp", addr); err == nil {
				pc.Close()
				t.Fatalf("UDP %s is not bound", addr)
			}
			if ln, err := net.Listen("tcp", addr); err == nil {
				ln.Close()
				t.Fatalf("TCP %s is not bound", addr)
			}
		})
	}
}

// TestServe answers over UDP and TCP, sends from the listening socket when
// asked, counts unparseable input, and frees the port on Close.
func TestServe(t *testing.T) {
	for _, fromListener := range []bool{false, true} {
		t.Run("SendFromListener="+strconv.FormatBool(fromListener), func(t *testing.T) {
			s := &Stack{Listen: "127.0.0.1:0", Hostname: "3402000000", PublicHost: "127.0.0.1", SendFromListener: fromListener,
				Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if err := s.Initialize(); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.Server.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
				Respond(s.Log, tx, req, 200, "OK", sip.NewHeader("Allow", "OPTIONS"))
			})
			if err := s.Serve(); err != nil {
				t.Fatal(err)
			}
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port()))

			for _, network := range []string{"udp", "tcp"} {
				c, err := net.DialTimeout(network, addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write([]byte(options(network, c.LocalAddr().String(), addr))); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 4096)
				n, err := c.Read(buf)
				c.Close()
				if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") || !strings.Contains(string(buf[:n]), "Allow: OPTIONS\r\n") {
					t.Fatalf("OPTIONS over %s: %q, %v", network, buf[:n], err)
				}
			}

			// A request from Client: from the listening port only when asked.
			peer, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", User: "34020000002000000001", Host: "127.0.0.1", Port: peer.LocalAddr().(*net.UDPAddr).Port})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := s.Client.TransactionRequest(ctx, req); err != nil {
				t.Fatal(err)
			}
			_ = peer.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 4096)
			_, from, err := peer.ReadFrom(buf)
			if err != nil {
				t.Fatal(err)
			}
			if got := from.(*net.UDPAddr).Port == s.Port(); got != fromListener {
				t.Fatalf("request came from %v (listening on %d), want from the listener: %v", from, s.Port(), fromListener)
			}

			before := siplog.ParseErrors.Load()
			c, err := net.Dial("udp", addr)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.Write([]byte("NOT SIP AT ALL\r\n\r\n"))
			c.Close()
			testpeer.Eventually(t, 10*time.Second, "the unparseable datagram counted", func() bool {
				return siplog.ParseErrors.Load() > before
			})

			s.Close()
			s.Close() // a second Close does nothing
			for _, network := range []string{"udp", "tcp"} {
				var err error
				if network == "udp" {
					var pc net.PacketConn
					if pc, err = net.ListenPacket("udp", addr); err == nil {
						pc.Close()
					}
				} else {
					var ln net.Listener
					if ln, err = net.Listen("tcp", addr); err == nil {
						ln.Close()
					}
				}
				if err != nil {
					t.Fatalf("%s %s still bound after Close: %v", network, addr, err)
				}
			}
		})
	}
}

// taken binds a loopback port over network for the rest of the test and
// returns its address.
func taken(t *testing.T, network string) string {
	t.Helper()
	var c io.Closer
	var addr string
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c, addr = pc, pc.LocalAddr().String()
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c, addr = ln, ln.Addr().String()
	}
	t.Cleanup(func() { c.Close() })
	return addr
}

func options(network, from, to string) string {
	return "OPTIONS sip:34020000002000000001@" + to + " SIP/2.0\r\n" +
		"Via: SIP/2.0/" + strings.ToUpper(network) + " " + from + ";branch=z9hG4bK" + strconv.FormatInt(time.Now().UnixNano(), 36) + "\r\n" +
		"From: <sip:34020000001320000001@3402000000>;tag=t1\r\n" +
		"To: <sip:34020000002000000001@3402000000>\r\n" +
		"Call-ID: c" + network + "@test\r\n" +
		"CSeq: 1 OPTIONS\r\n" +
		"Max-Forwards: 70\r\n" +
		"Content-Length: 0\r\n\r\n"
}
