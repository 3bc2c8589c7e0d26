package platform

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestMetrics: the collector can be registered before Initialize and
// counts registrations, keepalives and devices afterwards.
func TestMetrics(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	var c prometheus.Collector
	p, _ := newPlatform(t, func(p *Platform) {
		p.Password = "pw"
		c = p.Collector()
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	})
	if p.Collector() != c {
		t.Fatal("Initialize replaced the collector")
	}
	d := newDevice(t, p, "udp", "34020000001320000020", "pw")
	if err := d.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Keepalive(ctx); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(p.Collector())
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			got[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for name, v := range map[string]float64{
		"skyrelay_gb28181_devices{online=true}":  1,
		"skyrelay_gb28181_devices{online=false}": 0,
		"skyrelay_gb28181_keepalives_total":      1,
		"skyrelay_gb28181_registers_total":       2, // the challenged one and the answer
		"skyrelay_gb28181_sessions":              0,
	} {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}
}
