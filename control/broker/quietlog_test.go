package broker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

func TestQuietLog(t *testing.T) {
	pk := packets.Packet{TopicName: "thing/product/D/osd", Payload: []byte("secret-payload")}
	for _, c := range []struct {
		name string
		msg  string
		err  error
		want string // "" means dropped
	}{
		{"refused by the ACL", "error processing packet", packets.ErrNotAuthorized, ""},
		{"another error keeps the line, not the packet", "error processing packet", packets.ErrProtocolViolation, "protocol violation"},
		{"other lines untouched", "mochi mqtt server started", nil, "server started"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(quietLog{slog.NewTextHandler(&buf, nil)})
			if c.err != nil {
				log.Warn(c.msg, "error", c.err, "client", "x", "pk", pk)
			} else {
				log.Info(c.msg)
			}
			out := buf.String()
			if c.want == "" {
				if out != "" {
					t.Fatalf("logged %q", out)
				}
				return
			}
			if !strings.Contains(out, c.want) || strings.Contains(out, "secret-payload") {
				t.Fatalf("logged %q", out)
			}
		})
	}
}
