package tlscert

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// DefaultPoll is how often the certificate files are looked at when Poll is
// unset. Rotations (certbot, cert-manager) happen days before expiry, so a
// few seconds of delay costs nothing, and a stat of two files is cheap.
const DefaultPoll = 5 * time.Second

// Holder loads tls.cert_file and tls.key_file, serves them to every TLS
// handshake and swaps in a new pair when the files change. Fill the fields,
// call Initialize, and Close to stop watching.
type Holder struct {
	CertFile, KeyFile string
	// Poll is how often the files' modification time and size are compared
	// with the loaded ones (DefaultPoll if 0). Polling instead of inotify:
	// it needs no dependency, works on every file system (NFS, bind mounts,
	// Kubernetes secret volumes whose symlinks are swapped), and a missed
	// event cannot leave an old certificate in place.
	Poll time.Duration
	Log  *slog.Logger

	cert    atomic.Pointer[tls.Certificate]
	metrics metrics

	loaded   stamp  // the files as they were when cert was loaded
	lastFail string // the files and error of the last failed load, logged once

	check  chan chan error
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// stamp is what a poll compares: both files' modification times and sizes.
type stamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// Initialize loads the pair; a missing or invalid pair is a configuration
// error, reported at once rather than at the first handshake.
func (h *Holder) Initialize() error {
	if h.CertFile == "" || h.KeyFile == "" {
		return errors.New("tls: cert_file and key_file are both required")
	}
	if h.Log == nil {
		h.Log = slog.Default()
	}
	h.Log = h.Log.With("component", "tls")
	if h.Poll <= 0 {
		h.Poll = DefaultPoll
	}
	h.metrics.init()
	st, err := h.stat()
	if err != nil {
		return err
	}
	if err := h.load(st); err != nil {
		return err
	}
	h.check = make(chan chan error)
	h.done = make(chan struct{})
	h.ctx, h.cancel = context.WithCancel(context.Background())
	go h.run()
	return nil
}

// Close stops watching the files; the loaded certificate stays in use by
// connections already open.
func (h *Holder) Close() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
}

// Check looks at the files now instead of waiting for the next poll and
// returns the error of loading them if they changed and do not load. It is
// what a SIGHUP handler or a test calls.
func (h *Holder) Check() error {
	reply := make(chan error, 1)
	select {
	case h.check <- reply:
		return <-reply
	case <-h.ctx.Done():
		return errors.New("tls: certificate holder closed")
	}
}

// Certificate is the pair served now.
func (h *Holder) Certificate() *tls.Certificate { return h.cert.Load() }

// Config returns a new server configuration that serves the current pair
// at every handshake. Callers may set NextProtos and the like on it.
func (h *Holder) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return h.cert.Load(), nil
		},
	}
}

func (h *Holder) run() {
	defer close(h.done)
	t := time.NewTicker(h.Poll)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
			_ = h.reloadIfChanged()
		case reply := <-h.check:
			reply <- h.reloadIfChanged()
		}
	}
}

// reloadIfChanged loads the pair again when either file changed since the
// last load. A failed load keeps the old pair: a rotation that writes the
// certificate and then the key is caught between the two, and the next poll
// after the key is written succeeds. Each failing state is logged once.
func (h *Holder) reloadIfChanged() error {
	st, err := h.stat()
	if err == nil && st == h.loaded {
		return nil
	}
	if err == nil {
		err = h.load(st)
		if err == nil {
			return nil
		}
	}
	if key := fmt.Sprint(st, err); key != h.lastFail {
		h.lastFail = key
		h.Log.Warn("TLS certificate not reloaded; the previous one stays in use", "err", err)
	}
	h.metrics.reloadErrors.Add(1)
	return err
}

func (h *Holder) stat() (stamp, error) {
	c, err := os.Stat(h.CertFile)
	if err != nil {
		return stamp{}, fmt.Errorf("tls: certificate file: %w", err)
	}
	k, err := os.Stat(h.KeyFile)
	if err != nil {
		return stamp{}, fmt.Errorf("tls: key file: %w", err)
	}
	return stamp{certMod: c.ModTime(), certSize: c.Size(), keyMod: k.ModTime(), keySize: k.Size()}, nil
}

// load reads and checks the pair and makes it the one served. The error
// never quotes the files' contents (a key must not reach a log).
func (h *Holder) load(st stamp) error {
	pair, err := tls.LoadX509KeyPair(h.CertFile, h.KeyFile)
	if err != nil {
		return fmt.Errorf("tls: loading %s and %s: %w", h.CertFile, h.KeyFile, err)
	}
	if pair.Leaf == nil {
		return fmt.Errorf("tls: %s holds no certificate", h.CertFile)
	}
	first := h.cert.Load() == nil
	h.cert.Store(&pair)
	h.loaded, h.lastFail = st, ""
	h.metrics.notAfter.Store(pair.Leaf.NotAfter.Unix())
	msg := "TLS certificate reloaded"
	if first {
		msg = "TLS certificate loaded"
	} else {
		h.metrics.reloads.Add(1)
	}
	h.Log.Info(msg, "subject", pair.Leaf.Subject.String(), "dns_names", pair.Leaf.DNSNames,
		"not_after", pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
	if time.Until(pair.Leaf.NotAfter) < 0 {
		h.Log.Warn("TLS certificate has expired", "not_after", pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}
