// Package rtsppull pulls RTSP streams into the stream core: what Skyrelay
// does for a DJI remote controller in url_type 2, where the controller runs
// an RTSP server and replies with its URL (docs/dji-cloud-api.md, "url formats per url_type").
//
// A pull is a gortsplib client (DESCRIBE, SETUP, PLAY; RFC 2326 §10) whose
// RTP packets go to gateway.Publisher.WriteRTP, so the path serves every
// output like any other source. While the pull lives, a lost connection is
// retried with a short back-off, and the path keeps its readers through the
// hub's reconnect grace: the controller's Wi-Fi or cellular link drops, the
// viewers stay.
package rtsppull

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"

	"github.com/skyrelay/skyrelay/gateway"
)

// Defaults of Puller's optional fields.
const (
	DefaultRetryMin    = 100 * time.Millisecond
	DefaultRetryMax    = time.Second
	DefaultReadTimeout = 10 * time.Second
)

// Puller runs pulls. Fill the fields, call Initialize, Pull as sessions
// need, and Close to end every pull.
type Puller struct {
	Hub *gateway.Hub
	Log *slog.Logger
	// Transport is "tcp" (the default: interleaved, through any NAT) or
	// "udp".
	Transport string
	// RetryMin and RetryMax bound the back-off between attempts: it starts
	// at RetryMin, doubles, and stays at RetryMax, so a controller whose
	// server comes back is pulled again within RetryMax plus a connect.
	RetryMin, RetryMax time.Duration
	// ReadTimeout ends a connection that delivers nothing for this long.
	ReadTimeout time.Duration

	mu     sync.Mutex
	pulls  map[*pull]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Initialize checks the configuration.
func (p *Puller) Initialize() error {
	if p.Hub == nil {
		return errors.New("rtsppull: Puller.Hub is required")
	}
	if p.Log == nil {
		p.Log = slog.Default()
	}
	switch p.Transport {
	case "":
		p.Transport = "tcp"
	case "tcp", "udp":
	default:
		return fmt.Errorf("rtsppull: transport %q: want tcp or udp", p.Transport)
	}
	if p.RetryMin <= 0 {
		p.RetryMin = DefaultRetryMin
	}
	if p.RetryMax < p.RetryMin {
		p.RetryMax = max(DefaultRetryMax, p.RetryMin)
	}
	if p.ReadTimeout <= 0 {
		p.ReadTimeout = DefaultReadTimeout
	}
	p.mu.Lock()
	p.pulls = map[*pull]struct{}{}
	p.mu.Unlock()
	return nil
}

// Close ends every pull and waits for them.
func (p *Puller) Close() {
	p.mu.Lock()
	p.closed = true
	pulls := make([]*pull, 0, len(p.pulls))
	for x := range p.pulls {
		pulls = append(pulls, x)
	}
	p.mu.Unlock()
	for _, x := range pulls {
		x.cancel()
	}
	p.wg.Wait()
}

// Pull starts pulling rawURL (rtsp://user:pass@host:port/path) onto path
// until stop is called. It returns at once: connecting, and reconnecting
// after a loss, happen in the background.
func (p *Puller) Pull(path, rawURL string) (stop func(), err error) {
	if err := gateway.ValidPath(path); err != nil {
		return nil, err
	}
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("rtsppull: invalid URL %s: %w", Redact(rawURL), err)
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" || u.Host == "" {
		return nil, fmt.Errorf("rtsppull: not an rtsp:// URL: %s", Redact(rawURL))
	}
	if u.Port() == "" {
		u.Host += map[string]string{"rtsp": ":554", "rtsps": ":322"}[u.Scheme]
	}
	ctx, cancel := context.WithCancel(context.Background())
	x := &pull{p: p, path: path, u: u, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		log: p.Log.With("path", path, "url", Redact(rawURL))}
	p.mu.Lock()
	if p.closed || p.pulls == nil {
		p.mu.Unlock()
		cancel()
		return nil, errors.New("rtsppull: not running")
	}
	p.pulls[x] = struct{}{}
	p.wg.Add(1)
	p.mu.Unlock()
	go x.run()
	return func() { x.cancel(); <-x.done }, nil
}

// Pulls is the number of running pulls.
func (p *Puller) Pulls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pulls)
}

// Redact makes an RTSP URL safe to log: the password is hidden.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "<unparseable url>"
	}
	return u.Redacted()
}

// pull is one URL pulled onto one path.
type pull struct {
	p      *Puller
	path   string
	u      *base.URL
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	log    *slog.Logger
}

func (x *pull) run() {
	defer x.p.wg.Done()
	defer close(x.done)
	defer func() {
		x.p.mu.Lock()
		delete(x.p.pulls, x)
		x.p.mu.Unlock()
	}()
	wait := x.p.RetryMin
	lastErr := ""
	for attempt := 1; ; attempt++ {
		started := time.Now()
		err := x.once()
		if x.ctx.Err() != nil {
			x.log.Info("RTSP pull stopped")
			return
		}
		// A connection that played for a while earns a quick retry.
		if time.Since(started) > 5*time.Second {
			wait = x.p.RetryMin
		}
		// Log a changed failure once, not every second while a
		// controller is away.
		if msg := err.Error(); msg != lastErr {
			x.log.Warn("RTSP pull interrupted; retrying", "err", msg, "attempt", attempt, "retry_in", wait)
			lastErr = msg
		} else {
			x.log.Debug("RTSP pull attempt failed again", "attempt", attempt, "retry_in", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-x.ctx.Done():
			t.Stop()
			x.log.Info("RTSP pull stopped")
			return
		}
		wait = min(2*wait, x.p.RetryMax)
	}
}

// once connects, plays, and feeds the stream until the connection ends.
func (x *pull) once() error {
	proto := gortsplib.ProtocolTCP
	if x.p.Transport == "udp" {
		proto = gortsplib.ProtocolUDP
	}
	c := &gortsplib.Client{
		Scheme: x.u.Scheme, Host: x.u.Host, Protocol: &proto,
		ReadTimeout: x.p.ReadTimeout, WriteTimeout: x.p.ReadTimeout,
	}
	if err := c.Start(); err != nil {
		return err
	}
	defer c.Close()
	// Close the client when the pull is stopped, which ends Describe,
	// Play or Wait at once.
	stopWatch := context.AfterFunc(x.ctx, c.Close)
	defer stopWatch()

	desc, _, err := c.Describe(x.u)
	if err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	feed, err := newFeed(desc, x.log)
	if err != nil {
		return err
	}
	for _, m := range feed.medias {
		if _, err := c.Setup(desc.BaseURL, m, 0, 0); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	pub, err := x.p.Hub.Publish(x.path, gateway.SourceInfo{Protocol: "rtsp_pull", RemoteAddr: x.u.Host}, feed.tracks)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	defer pub.Close()
	feed.attach(c, pub)
	if _, err := c.Play(nil); err != nil {
		return fmt.Errorf("play: %w", err)
	}
	x.log.Info("RTSP pull playing", "tracks", len(feed.tracks), "transport", x.p.Transport)
	err = c.Wait()
	if err == nil {
		err = errors.New("connection closed")
	}
	return err
}
