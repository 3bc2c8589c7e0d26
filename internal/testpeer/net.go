package testpeer

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that is free now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testpeer: free TCP port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that is free now.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testpeer: free UDP port: %v", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// backoff yields the pauses between polls: 5 ms doubling to 200 ms.
type backoff time.Duration

func (b *backoff) wait(ctx context.Context) error {
	d := time.Duration(*b)
	if d == 0 {
		d = 5 * time.Millisecond
	}
	*b = backoff(min(2*d, 200*time.Millisecond))
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// WaitTCP polls until something accepts TCP connections on addr
// ("127.0.0.1:8554"), or ctx ends; the error then says what the last
// attempt saw.
func WaitTCP(ctx context.Context, addr string) error {
	var b backoff
	var d net.Dialer
	var last error
	for {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return nil
		}
		if last == nil || ctx.Err() == nil {
			last = err
		}
		if werr := b.wait(ctx); werr != nil {
			return fmt.Errorf("testpeer: %s not accepting TCP connections: %w (last: %v)", addr, werr, last)
		}
	}
}

// WaitHTTP polls GET url until it answers wantStatus, or ctx ends; the
// error then says what the last attempt saw.
func WaitHTTP(ctx context.Context, url string, wantStatus int) error {
	var b backoff
	client := &http.Client{Timeout: 2 * time.Second}
	last := "no answer yet"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("testpeer: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == wantStatus {
				return nil
			}
			last = resp.Status
		} else if ctx.Err() == nil {
			last = err.Error() // not the cut-off attempt: what was seen before
		}
		if werr := b.wait(ctx); werr != nil {
			return fmt.Errorf("testpeer: GET %s never answered %d: %w (last: %s)", url, wantStatus, werr, last)
		}
	}
}

// Eventually polls cond every 10 ms until it holds, failing t when within
// passes first. Use it only for state nothing signals (a counter, a list);
// wait on a channel or an event where one exists.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
