package broker

import (
	"context"
	"errors"
	"log/slog"

	"github.com/mochi-mqtt/server/v2/packets"
)

// quietLog is the logger handed to mochi. mochi logs "error processing
// packet" with the whole packet: a payload may carry a device's URLs and
// secrets, so the packet is left out; and a publish the ACL refused (MQTT
// 3.1.1 at QoS 1 or 2, where mochi closes the connection) is already
// counted and logged once by the ACL, so that line is dropped.
type quietLog struct{ slog.Handler }

func (q quietLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message != "error processing packet" {
		return q.Handler.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	drop := false
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "pk":
			return true
		case "error":
			if err, ok := a.Value.Any().(error); ok && errors.Is(err, packets.ErrNotAuthorized) {
				drop = true
			}
		}
		out.AddAttrs(a)
		return true
	})
	if drop {
		return nil
	}
	return q.Handler.Handle(ctx, out)
}

func (q quietLog) WithAttrs(as []slog.Attr) slog.Handler { return quietLog{q.Handler.WithAttrs(as)} }
func (q quietLog) WithGroup(name string) slog.Handler    { return quietLog{q.Handler.WithGroup(name)} }
