package testpeer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BrowserJob is one page load in headless Chromium, run by
// test/browser/run.mjs through playwright-core with Debian's /usr/bin/chromium.
type BrowserJob struct {
	// URL is the page to open. Leave it empty and set HTML to have the
	// page served from an httptest server on 127.0.0.1 instead.
	URL string `json:"url"`
	// HTML is a page of the test's own (a WHEP client reporting getStats,
	// say), served at "/" while the job runs.
	HTML string `json:"-"`
	// Files are more paths served beside HTML ("/hls.min.js": content);
	// the content type follows the extension.
	Files map[string]string `json:"-"`
	// WaitFor is a JS expression polled in the page (every 100 ms) until it
	// is truthy. It must give a plain value: a promise is an object, so it
	// counts as truthy at once (have the page set a flag instead).
	WaitFor string `json:"waitFor,omitempty"`
	// Evaluate is a JS expression evaluated after WaitFor; its value (a
	// promise is awaited) comes back as Result and must be JSON.
	Evaluate string `json:"evaluate,omitempty"`
	// TimeoutMs bounds navigation, WaitFor and Evaluate together (starting
	// Chromium has its own 30 s). Zero means what is left of ctx less 5 s,
	// or 30 s without a deadline.
	TimeoutMs int `json:"timeoutMs,omitempty"`
	// Screenshot, if set, is the path of a PNG written at the end, also
	// when the job failed.
	Screenshot string `json:"screenshot,omitempty"`
	// Args are extra Chromium flags, after the fixed ones (docs/testing.md).
	Args []string `json:"args,omitempty"`
	// FakeMedia adds --use-fake-device-for-media-stream and
	// --use-fake-ui-for-media-stream: getUserMedia gets a synthetic camera
	// and microphone without asking (for WHIP).
	FakeMedia bool `json:"fakeMedia,omitempty"`
}

// BrowserResult is run.mjs's answer.
type BrowserResult struct {
	OK      bool            `json:"ok"`      // the page loaded, WaitFor became true, Evaluate returned
	Result  json.RawMessage `json:"result"`  // Evaluate's value as JSON ("null" without Evaluate)
	Console []string        `json:"console"` // "type: text" for console messages, page errors, failed requests
	Error   string          `json:"error"`   // "step: message" when !OK
}

// Decode unmarshals Result into v.
func (r BrowserResult) Decode(v any) error { return json.Unmarshal(r.Result, v) }

// RunBrowser runs one job. The error is for the harness itself (node missing,
// the runner crashed, ctx ended); a page that failed comes back as a result
// with OK false and Error set.
func RunBrowser(ctx context.Context, job BrowserJob) (BrowserResult, error) {
	if job.HTML != "" || len(job.Files) > 0 {
		if job.URL != "" {
			return BrowserResult{}, errors.New("testpeer: BrowserJob has both URL and HTML/Files")
		}
		files := map[string]string{}
		for p, c := range job.Files {
			files[p] = c
		}
		if job.HTML != "" {
			files["/"] = job.HTML
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := files[r.URL.Path]
			if !ok && r.URL.Path == "/favicon.ico" {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			if !ok {
				http.NotFound(w, r)
				return
			}
			ct := mime.TypeByExtension(path.Ext(r.URL.Path))
			if r.URL.Path == "/" || ct == "" {
				ct = "text/html; charset=utf-8"
			}
			w.Header().Set("Content-Type", ct)
			w.Header().Set("Cache-Control", "no-store")
			w.Write([]byte(c))
		}))
		defer srv.Close()
		job.URL = srv.URL + "/"
	}
	if job.URL == "" {
		return BrowserResult{}, errors.New("testpeer: BrowserJob needs URL or HTML")
	}
	if job.TimeoutMs == 0 {
		job.TimeoutMs = 30000
		if dl, ok := ctx.Deadline(); ok {
			job.TimeoutMs = max(1000, int(time.Until(dl).Milliseconds())-5000)
		}
	}
	in, err := json.Marshal(job)
	if err != nil {
		return BrowserResult{}, err
	}

	cmd := exec.CommandContext(ctx, "node", filepath.Join(Root(), "test", "browser", "run.mjs"))
	cmd.Dir = filepath.Join(Root(), "test", "browser")
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	// SIGTERM lets playwright close Chromium (it runs in its own process
	// group); SIGKILL only if that takes too long.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	runErr := cmd.Run()

	var res BrowserResult
	if err := json.Unmarshal(lastJSONLine(stdout.Bytes()), &res); err != nil {
		if ctx.Err() != nil {
			return BrowserResult{}, fmt.Errorf("testpeer: browser job: %w\nstderr: %s", ctx.Err(), strings.TrimSpace(stderr.String()))
		}
		return BrowserResult{}, fmt.Errorf("testpeer: node run.mjs: %v (run error: %v)\nstdout: %s\nstderr: %s",
			err, runErr, strings.TrimSpace(stdout.String()), strings.TrimSpace(stderr.String()))
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("testpeer: browser job: %w", ctx.Err())
	}
	if len(res.Result) == 0 {
		res.Result = json.RawMessage("null")
	}
	return res, nil
}

func lastJSONLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if bytes.HasPrefix(bytes.TrimSpace(lines[i]), []byte("{")) {
			return lines[i]
		}
	}
	return b
}

// Browser runs a job and fails the test unless it succeeded (OK), logging
// the page's console either way.
func Browser(t testing.TB, ctx context.Context, job BrowserJob) BrowserResult {
	t.Helper()
	Require(t, "node", "chromium", "playwright-core")
	res, err := RunBrowser(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Console) > 0 {
		where := job.URL
		if where == "" {
			where = "test page"
		}
		t.Logf("browser console (%s):\n  %s", where, strings.Join(res.Console, "\n  "))
	}
	if !res.OK {
		t.Fatalf("testpeer: browser job failed: %s", res.Error)
	}
	return res
}
