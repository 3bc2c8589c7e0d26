package gateway

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the stream core's counters, read by Prometheus on scrape.
type metrics struct {
	hub           *Hub
	process       ProcessStats
	bytesIn       atomic.Uint64
	bytesOut      atomic.Uint64
	framesDropped atomic.Uint64
	reconnects    atomic.Uint64

	latency *prometheus.SummaryVec

	mu      sync.Mutex
	readers map[string]int
}

func newMetrics(h *Hub) *metrics {
	return &metrics{hub: h, readers: map[string]int{}, latency: prometheus.NewSummaryVec(prometheus.SummaryOpts{
		Name:       "skyrelay_added_latency_seconds",
		Help:       "Time from a unit's arrival at the gateway to a reader handing it to its peer.",
		Objectives: map[float64]float64{0.5: 0.005, 0.9: 0.005, 0.99: 0.001},
		MaxAge:     time.Minute,
	}, []string{"protocol"})}
}

func (m *metrics) readerAdded(proto string) {
	m.mu.Lock()
	m.readers[proto]++
	m.mu.Unlock()
}

func (m *metrics) readerRemoved(proto string) {
	m.mu.Lock()
	m.readers[proto]--
	m.mu.Unlock()
}

var (
	descStreams    = prometheus.NewDesc("skyrelay_streams", "Streams on the gateway, by whether they are playable.", []string{"ready"}, nil)
	descReaders    = prometheus.NewDesc("skyrelay_readers", "Readers attached to streams, by protocol.", []string{"protocol"}, nil)
	descBytesIn    = prometheus.NewDesc("skyrelay_bytes_received_total", "Bytes received from publishers.", nil, nil)
	descBytesOut   = prometheus.NewDesc("skyrelay_bytes_sent_total", "Bytes sent to readers.", nil, nil)
	descDropped    = prometheus.NewDesc("skyrelay_frames_dropped_total", "Frames lost by readers too slow to keep up.", nil, nil)
	descSkipped    = prometheus.NewDesc("skyrelay_units_skipped_total", "Units or NAL units skipped as unparseable.", nil, nil)
	descEmpty      = prometheus.NewDesc("skyrelay_nalus_empty_total", "Zero-length NAL units dropped.", nil, nil)
	descRepaired   = prometheus.NewDesc("skyrelay_timestamps_repaired_total", "Timestamps that went backwards and were moved forward.", nil, nil)
	descRebased    = prometheus.NewDesc("skyrelay_timestamps_rebased_total", "Jumps of a publisher's clock (an encoder restart) that moved its timeline.", nil, nil)
	descReconnects = prometheus.NewDesc("skyrelay_publisher_reconnects_total", "Publishers that came back within the grace period and continued their stream.", nil, nil)
)

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.latency.Describe(ch)
	for _, d := range []*prometheus.Desc{descStreams, descReaders, descBytesIn, descBytesOut, descDropped, descSkipped, descEmpty, descRepaired, descRebased, descReconnects} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	ready, notReady := 0, 0
	for _, s := range m.hub.Streams() {
		if s.isReady.Load() {
			ready++
		} else {
			notReady++
		}
	}
	ch <- prometheus.MustNewConstMetric(descStreams, prometheus.GaugeValue, float64(ready), "true")
	ch <- prometheus.MustNewConstMetric(descStreams, prometheus.GaugeValue, float64(notReady), "false")
	m.mu.Lock()
	for p, n := range m.readers {
		ch <- prometheus.MustNewConstMetric(descReaders, prometheus.GaugeValue, float64(n), p)
	}
	m.mu.Unlock()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descBytesIn, m.bytesIn.Load())
	counter(descBytesOut, m.bytesOut.Load())
	counter(descDropped, m.framesDropped.Load())
	counter(descSkipped, m.process.Skipped.Load())
	counter(descEmpty, m.process.Empty.Load())
	counter(descRepaired, m.process.Repaired.Load())
	counter(descRebased, m.process.Rebased.Load())
	counter(descReconnects, m.reconnects.Load())
	m.latency.Collect(ch)
}

// Collector exposes the hub's metrics to a Prometheus registry.
func (h *Hub) Collector() prometheus.Collector { return h.metrics }

// Stats returns the hub-wide codec processing counters.
func (h *Hub) Stats() *ProcessStats { return &h.metrics.process }
