package hlstest

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

//go:embed browser.js
var browserJS []byte

// BrowserRun is one headless Chromium session: open URL, poll Probe until
// Until holds or Timeout passes.
type BrowserRun struct {
	URL string
	// HTML, when set, is served at URL by the browser itself (a test page
	// on Skyrelay's origin that Skyrelay does not have).
	HTML string
	// Probe is a JS expression evaluated in the page; it returns JSON.
	Probe string
	// Until is a JS expression over v, the probe's last value.
	Until   string
	Timeout time.Duration
	// Screenshot, when set, is where a PNG of the page goes at the end.
	Screenshot string
}

// BrowserResult is what a run saw.
type BrowserResult struct {
	OK    bool            // Until held before the timeout
	Probe json.RawMessage // the last probe value
	Log   []string        // console messages, page errors, probes
}

// Browser runs Chromium through playwright-core (npm, installed globally)
// and fails the test when either is missing.
func Browser(t testing.TB, run BrowserRun) BrowserResult {
	t.Helper()
	testpeer.Require(t, "node", "chromium")
	nodePath := playwrightPath(t)
	script := filepath.Join(t.TempDir(), "browser.js")
	if err := os.WriteFile(script, browserJS, 0o644); err != nil {
		t.Fatal(err)
	}
	opts, _ := json.Marshal(map[string]any{"url": run.URL, "html": run.HTML, "probe": run.Probe,
		"until": run.Until, "timeoutMs": run.Timeout.Milliseconds(), "screenshot": run.Screenshot})
	cmd := exec.Command("node", script, string(opts))
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	var res BrowserResult
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var ev struct {
			Done  *bool           `json:"done"`
			Probe json.RawMessage `json:"probe"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Done != nil {
			res.OK, res.Probe = *ev.Done, ev.Probe
			continue
		}
		res.Log = append(res.Log, line)
	}
	if err != nil && res.Probe == nil {
		t.Fatalf("browser run failed: %v\n%s\n%s", err, stderr.String(), strings.Join(res.Log, "\n"))
	}
	return res
}

// Tail is the end of a browser log, for failure messages.
func (r BrowserResult) Tail(n int) string {
	l := r.Log
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// playwrightPath finds playwright-core where scripts/install-test-peers.sh
// puts it (test/browser/node_modules in the repository), or installed
// globally, and returns the NODE_PATH that makes node find it.
func playwrightPath(t testing.TB) string {
	t.Helper()
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dirs = append(dirs, filepath.Join(d, "test", "browser", "node_modules"))
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if root, err := exec.Command("npm", "root", "-g").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(root)))
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "playwright-core", "package.json")); err == nil {
			return d
		}
	}
	t.Fatalf("playwright-core is missing (looked in %s): run scripts/install-test-peers.sh", strings.Join(dirs, ", "))
	return ""
}
