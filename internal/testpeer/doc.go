// Package testpeer is the shared harness for tests that run Skyrelay against
// real third-party peers: ffmpeg/ffprobe, GStreamer, headless Chromium via
// playwright-core, Mosquitto and its clients, SIPp (docs/testing.md).
//
// A missing peer fails the test, it never skips it: Require names the tool,
// its Debian package and scripts/install-test-peers.sh, which `make test`
// runs first. Everything here waits on events (a line of output, a port that
// answers) rather than sleeping for a fixed time, and every process started
// is bound to the test and killed in its cleanup.
//
// Only _test.go files should import this package.
package testpeer

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var (
	rootOnce sync.Once
	rootDir  string
)

// Root returns the repository root: the nearest folder above the working
// directory that holds go.mod.
func Root() string {
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			dir = "."
		}
		rootDir = dir
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				rootDir = d
				return
			}
			if filepath.Dir(d) == d {
				return
			}
		}
	})
	return rootDir
}

// Context returns a context that ends after d or when the test ends,
// whichever comes first.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
