// Package siplog quiets what the SIP library (sipgo) logs about input it
// cannot parse. sipgo logs every unparseable datagram or stream chunk at
// ERROR with the whole raw text, so anyone who can reach the SIP port could
// fill the log (and a REGISTER's Authorization header would be copied into
// it). Skyrelay skips such input and counts it instead: the line goes to
// DEBUG without the raw text, and ParseErrors rises.
package siplog

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
)

// ParseErrors counts SIP input the library could not parse, over every
// SIP endpoint of the process (platform and upstreams).
var ParseErrors atomic.Uint64

// SetLibraryDefault routes what sipgo logs outside any user agent (its
// transports' connection bookkeeping, some parse paths) to l, quieted as
// Logger does; without it those lines go to slog's default logger
// unfiltered. Call it once, before any SIP endpoint starts.
func SetLibraryDefault(l *slog.Logger) { sip.SetDefaultLogger(Logger(l)) }

// Logger returns l for sipgo's layers, with parse failures quieted.
func Logger(l *slog.Logger) *slog.Logger {
	return slog.New(handler{l.Handler()})
}

type handler struct{ next slog.Handler }

func (h handler) Enabled(ctx context.Context, lv slog.Level) bool {
	// A parse failure is always counted, so Handle must see it even when
	// its demoted level is off.
	return lv >= slog.LevelError || h.next.Enabled(ctx, lv)
}

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message != "failed to parse" {
		if !h.next.Enabled(ctx, r.Level) {
			return nil
		}
		return h.next.Handle(ctx, r)
	}
	ParseErrors.Add(1)
	if !h.next.Enabled(ctx, slog.LevelDebug) {
		return nil
	}
	q := slog.NewRecord(r.Time, slog.LevelDebug, "SIP input skipped: it does not parse", r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "data" {
			q.AddAttrs(slog.Int("bytes", len(a.Value.String())))
		} else {
			q.AddAttrs(a)
		}
		return true
	})
	return h.next.Handle(ctx, q)
}

func (h handler) WithAttrs(as []slog.Attr) slog.Handler { return handler{h.next.WithAttrs(as)} }
func (h handler) WithGroup(name string) slog.Handler    { return handler{h.next.WithGroup(name)} }

// Collector exports ParseErrors as skyrelay_sip_unparsed_total.
func Collector() prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "skyrelay_sip_unparsed_total",
		Help: "SIP datagrams and stream chunks skipped because they do not parse (platform and upstreams).",
	}, func() float64 { return float64(ParseErrors.Load()) })
}
