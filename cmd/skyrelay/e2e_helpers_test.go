package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

//go:embed testdata/whep.html
var whepPage string

// whepResult is what testdata/whep.html saw in Chromium.
type whepResult struct {
	FirstFrameMs  float64 `json:"firstFrameMs"`
	FPS           float64 `json:"fps"`
	FramesDecoded int     `json:"framesDecoded"`
	Width         int     `json:"width"`
	State         string  `json:"state"`
	Location      string  `json:"location"`
	DeleteStatus  int     `json:"deleteStatus"`
}

// playWHEP has headless Chromium play whep for window after its first
// decoded frame, from a page on another origin, and returns what it saw.
func playWHEP(t *testing.T, whep string, window time.Duration) whepResult {
	t.Helper()
	ctx := testpeer.Context(t, 60*time.Second)
	res := testpeer.Browser(t, ctx, testpeer.BrowserJob{
		HTML:      strings.Replace(whepPage, "location.search", "'?whep="+url.QueryEscape(whep)+"&window="+itoa(window.Milliseconds())+"'", 1),
		WaitFor:   "window.result || window.failure",
		Evaluate:  "window.result || {failure: window.failure}",
		TimeoutMs: 45000,
	})
	var out struct {
		whepResult
		Failure string `json:"failure"`
	}
	if err := res.Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Failure != "" {
		t.Fatalf("WHEP in Chromium failed: %s", out.Failure)
	}
	if out.DeleteStatus/100 != 2 {
		t.Fatalf("DELETE of the WHEP session answered %d", out.DeleteStatus)
	}
	return out.whepResult
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// call makes one API request and decodes a JSON answer into out (if set).
func call(t *testing.T, g *gwproc.Process, method, path, body string, out any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, g.URL(path), bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// healthy asserts the gateway still answers /healthz.
func healthy(t *testing.T, g *gwproc.Process) {
	t.Helper()
	if code := call(t, g, "GET", "/healthz", "", nil); code != 200 {
		t.Fatalf("/healthz answered %d", code)
	}
}

// eventually polls cond with a short backoff until it holds.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for d := 10 * time.Millisecond; !cond(); d = min(2*d, 250*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(d)
	}
}

type answer struct {
	code int
	body string
}

func httpPost(u, ctype, body string) (answer, error) {
	resp, err := http.Post(u, ctype, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b)}, nil
}

// httpGet returns the body of a GET.
func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
