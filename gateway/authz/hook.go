package authz

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// DefaultHookTimeout bounds one question to the hook.
const DefaultHookTimeout = 5 * time.Second

// ErrHookDenied is the hook's no.
var ErrHookDenied = errors.New("refused by the authorization hook")

// Hook asks an external HTTP service (auth.hook.url) about each request:
// it POSTs the Request as JSON, and a 2xx answer allows it; anything else,
// or no answer within Timeout, refuses it. The body of the answer is
// ignored, so an SRS on_play handler that answers 200 works as is.
//
// An allowed request is remembered for CacheFor, by everything the hook
// was told except the query: an LL-HLS viewer makes about five requests a
// second, and the hook should hear of each viewer, not of each part.
type Hook struct {
	URL      string
	Client   *http.Client  // http.DefaultClient's transport if nil
	Timeout  time.Duration // DefaultHookTimeout if 0
	CacheFor time.Duration // DefaultHookCache if 0; negative: never

	mu      sync.Mutex
	allowed map[[32]byte]time.Time // until when
}

// DefaultHookCache is how long the hook's yes is remembered.
const DefaultHookCache = 10 * time.Second

// Check asks the hook. The error never quotes the request's secrets.
func (h *Hook) Check(ctx context.Context, r Request) error {
	key := cacheKey(r)
	now := time.Now()
	h.mu.Lock()
	until, ok := h.allowed[key]
	h.mu.Unlock()
	if ok && now.Before(until) {
		return nil
	}
	if err := h.ask(ctx, r); err != nil {
		return err
	}
	if cacheFor := h.cacheFor(); cacheFor > 0 {
		h.mu.Lock()
		if h.allowed == nil || len(h.allowed) >= cacheEntries {
			h.allowed = map[[32]byte]time.Time{}
		}
		h.allowed[key] = now.Add(cacheFor)
		h.mu.Unlock()
	}
	return nil
}

func (h *Hook) cacheFor() time.Duration {
	if h.CacheFor == 0 {
		return DefaultHookCache
	}
	return h.CacheFor
}

func cacheKey(r Request) [32]byte {
	r.Query = ""
	b, _ := json.Marshal(r)
	return sha256.Sum256(b)
}

func (h *Hook) ask(ctx context.Context, r Request) error {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("authorization hook: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("authorization hook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	c := h.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		// Unwrap url.Error: its message quotes the URL, not the body, but
		// say plainly that the hook did not answer.
		return fmt.Errorf("authorization hook did not answer: %w", errors.Unwrap(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("%w (%s)", ErrHookDenied, res.Status)
	}
	return nil
}
