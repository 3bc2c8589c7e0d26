package testpeer

import (
	"bytes"
	"os"
	"strings"
	"sync"
)

// LogBuffer collects what a server under test logs (an slog handler's or a
// process's output), written by many goroutines at once, so that a test
// can assert what it said and what it never said (a secret). The zero
// value is ready to use.
type LogBuffer struct {
	// Echo copies every write to stderr as well (e.g. testing.Verbose()).
	Echo bool

	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Echo {
		os.Stderr.Write(p)
	}
	return l.b.Write(p)
}

// String is everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Contains tells whether s was logged.
func (l *LogBuffer) Contains(s string) bool { return strings.Contains(l.String(), s) }

// Lines are the logged lines that contain substr.
func (l *LogBuffer) Lines(substr string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

// Reset forgets what was logged.
func (l *LogBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}
