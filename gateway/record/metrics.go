package record

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the recorder's counters, read on scrape.
type metrics struct {
	r            *Recorder
	bytesWritten atomic.Uint64
	segments     atomic.Uint64
	writeErrors  atomic.Uint64
	jumps        atomic.Uint64
	repaired     atomic.Uint64
	skipped      atomic.Uint64
	deleted      atomic.Uint64
	hookFailures atomic.Uint64
	osdLines     atomic.Uint64
	osdDropped   atomic.Uint64
}

func newMetrics(r *Recorder) *metrics { return &metrics{r: r} }

var (
	descRecording = prometheus.NewDesc("skyrelay_record_paths", "Paths being recorded now.", nil, nil)
	descFailing   = prometheus.NewDesc("skyrelay_record_paths_failing", "Recorded paths whose last write failed (disk full, folder not writable).", nil, nil)
	recCounters   = []struct {
		d   *prometheus.Desc
		get func(m *metrics) uint64
	}{
		{prometheus.NewDesc("skyrelay_record_bytes_written_total", "Bytes written to recording segments.", nil, nil), func(m *metrics) uint64 { return m.bytesWritten.Load() }},
		{prometheus.NewDesc("skyrelay_record_segments_total", "Recording segments created.", nil, nil), func(m *metrics) uint64 { return m.segments.Load() }},
		{prometheus.NewDesc("skyrelay_record_write_errors_total", "Recording writes that failed; the path pauses and retries.", nil, nil), func(m *metrics) uint64 { return m.writeErrors.Load() }},
		{prometheus.NewDesc("skyrelay_record_timestamp_jumps_total", "Timestamp jumps that ended a recording run.", nil, nil), func(m *metrics) uint64 { return m.jumps.Load() }},
		{prometheus.NewDesc("skyrelay_record_timestamps_repaired_total", "Decode times moved forward so that they rise strictly in the file.", nil, nil), func(m *metrics) uint64 { return m.repaired.Load() }},
		{prometheus.NewDesc("skyrelay_record_units_skipped_total", "Units that could not be turned into MP4 samples.", nil, nil), func(m *metrics) uint64 { return m.skipped.Load() }},
		{prometheus.NewDesc("skyrelay_record_segments_deleted_total", "Segments removed by retention or the API.", nil, nil), func(m *metrics) uint64 { return m.deleted.Load() }},
		{prometheus.NewDesc("skyrelay_record_hook_failures_total", "Runs of on_segment_complete that failed.", nil, nil), func(m *metrics) uint64 { return m.hookFailures.Load() }},
		{prometheus.NewDesc("skyrelay_record_osd_lines_total", "Telemetry lines written beside segments.", nil, nil), func(m *metrics) uint64 { return m.osdLines.Load() }},
		{prometheus.NewDesc("skyrelay_record_osd_dropped_total", "Telemetry messages not written (no open segment, writer behind).", nil, nil), func(m *metrics) uint64 { return m.osdDropped.Load() }},
	}
)

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRecording
	ch <- descFailing
	for _, c := range recCounters {
		ch <- c.d
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.r.mu.Lock()
	n, failing := len(m.r.recs), len(m.r.errs)
	m.r.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descRecording, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(descFailing, prometheus.GaugeValue, float64(failing))
	for _, c := range recCounters {
		ch <- prometheus.MustNewConstMetric(c.d, prometheus.CounterValue, float64(c.get(m)))
	}
}

// Collector exposes the recorder's metrics to a Prometheus registry.
func (r *Recorder) Collector() prometheus.Collector {
	if r.metrics == nil {
		r.metrics = newMetrics(r)
	}
	return r.metrics
}
