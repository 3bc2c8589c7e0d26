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
)

//go:embed browser.js
var browserJS []byte

// BrowserRun is one headless Chromium session: open URL, poll Probe until
// Until holds or Timeout passes.
type BrowserRun struct {
	URL string
	// HTML, when set, is served at URL by the browser itself (a test page
	// on the gateway's origin that the gateway does not have).
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
	Require(t, "node", "chromium")
	root, err := exec.Command("npm", "root", "-g").Output()
	if err != nil {
		t.Fatalf("npm root -g: %v (apt-get install npm)", err)
	}
	nodePath := strings.TrimSpace(string(root))
	if err := exec.Command("node", "-e", "require('playwright-core')").Run(); err != nil {
		c := exec.Command("node", "-e", "require('playwright-core')")
		c.Env = append(os.Environ(), "NODE_PATH="+nodePath)
		if c.Run() != nil {
			t.Fatal("playwright-core is missing: npm install -g playwright-core")
		}
	}
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
