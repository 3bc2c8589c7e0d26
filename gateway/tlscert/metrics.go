package tlscert

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the holder's counters, read by Prometheus on scrape.
type metrics struct {
	reloads      atomic.Uint64
	reloadErrors atomic.Uint64
	notAfter     atomic.Int64

	mu        sync.Mutex
	plaintext map[string]*atomic.Uint64 // by listener name
}

func (m *metrics) init() {
	m.mu.Lock()
	if m.plaintext == nil {
		m.plaintext = map[string]*atomic.Uint64{}
	}
	m.mu.Unlock()
}

// plaintextCounter returns the counter of listener name, made on first use.
func (m *metrics) plaintextCounter(name string) *atomic.Uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.plaintext == nil {
		m.plaintext = map[string]*atomic.Uint64{}
	}
	c := m.plaintext[name]
	if c == nil {
		c = new(atomic.Uint64)
		m.plaintext[name] = c
	}
	return c
}

// Plaintext is how many connections to listener name were refused because
// they did not start with a TLS handshake.
func (h *Holder) Plaintext(name string) uint64 { return h.metrics.plaintextCounter(name).Load() }

// Reloads is how many times a changed pair was loaded after the first.
func (h *Holder) Reloads() uint64 { return h.metrics.reloads.Load() }

var (
	descPlaintext = prometheus.NewDesc("skyrelay_tls_plaintext_refused_total",
		"Connections to a TLS port refused because they spoke plain text, by listener.", []string{"listener"}, nil)
	descReloads = prometheus.NewDesc("skyrelay_tls_certificate_reloads_total",
		"Times the certificate files changed and were loaded, or failed to load, by result.", []string{"result"}, nil)
	descNotAfter = prometheus.NewDesc("skyrelay_tls_certificate_not_after_seconds",
		"Expiry of the certificate served, as a Unix time.", nil, nil)
)

// Collector exports the holder's metrics.
func (h *Holder) Collector() prometheus.Collector { return (*collector)(h) }

type collector Holder

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPlaintext
	ch <- descReloads
	ch <- descNotAfter
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	m := &c.metrics
	m.mu.Lock()
	for name, n := range m.plaintext {
		ch <- prometheus.MustNewConstMetric(descPlaintext, prometheus.CounterValue, float64(n.Load()), name)
	}
	m.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(m.reloads.Load()), "ok")
	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(m.reloadErrors.Load()), "error")
	ch <- prometheus.MustNewConstMetric(descNotAfter, prometheus.GaugeValue, float64(m.notAfter.Load()))
}
