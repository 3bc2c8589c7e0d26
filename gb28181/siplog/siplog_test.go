package siplog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestParseFailuresAreQuietAndCounted(t *testing.T) {
	cases := []struct {
		name      string
		level     slog.Level
		msg       string
		wantLine  string // "" = nothing written
		wantCount uint64
	}{
		{"parse failure at info", slog.LevelInfo, "failed to parse", "", 1},
		{"parse failure at debug", slog.LevelDebug, "failed to parse", "SIP input skipped", 1},
		{"other errors pass", slog.LevelInfo, "transaction timed out", "transaction timed out", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := Logger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: c.level})))
			before := ParseErrors.Load()
			l.Error(c.msg, "data", "REGISTER sip:x SIP/2.0\r\nAuthorization: Digest response=\"s3cret\"", "error", "EOF")
			if got := ParseErrors.Load() - before; got != c.wantCount {
				t.Errorf("counted %d, want %d", got, c.wantCount)
			}
			out := buf.String()
			if c.wantLine == "" && out != "" || !strings.Contains(out, c.wantLine) {
				t.Errorf("log = %q, want a line with %q", out, c.wantLine)
			}
			if c.wantCount > 0 && strings.Contains(out, "s3cret") {
				t.Errorf("the raw SIP text reached the log: %q", out)
			}
		})
	}
}
