package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
type Hook struct {
	URL     string
	Client  *http.Client  // http.DefaultClient's transport if nil
	Timeout time.Duration // DefaultHookTimeout if 0
}

// Check asks the hook. The error never quotes the request's secrets.
func (h *Hook) Check(ctx context.Context, r Request) error {
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
