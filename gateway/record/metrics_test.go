package record

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// metricValue gathers the recorder's collector through a registry, as a
// scrape would, and returns the value of one metric.
func metricValue(t *testing.T, r *Recorder, name string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.Collector())
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
		}
	}
	t.Fatalf("metric %s not exposed", name)
	return 0
}
