package control

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// metrics are the plane's Prometheus collectors. They belong to the plane
// (not to the global registry), so tests and several planes do not clash.
type metrics struct {
	messages  *prometheus.CounterVec
	byKind    [cloudapi.KindCount]prometheus.Counter // resolved once: no label lookup per message
	malformed prometheus.Counter
	refused   *prometheus.CounterVec // the embedded broker's ACL refusals, by action
	online    prometheus.Collector
	sessions  prometheus.Collector
}

func newMetrics(p *Plane) *metrics {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skyrelay_mqtt_messages_total",
			Help: "MQTT messages received from devices, by topic kind.",
		}, []string{"topic_kind"}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skyrelay_mqtt_malformed_total",
			Help: "Device messages ignored because they could not be parsed.",
		}),
	}
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skyrelay_mqtt_acl_refused_total",
		Help: "Publishes and subscriptions or deliveries the embedded broker refused because the topic is not the device's own.",
	}, []string{"action"})
	for k := cloudapi.Kind(0); k < cloudapi.KindCount; k++ {
		m.byKind[k] = m.messages.WithLabelValues(k.String())
	}
	m.online = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "skyrelay_devices_online",
		Help: "Gateways (docks, remote controllers) currently online.",
	}, func() float64 {
		g, _ := p.reg.countOnline()
		return float64(g)
	})
	m.sessions = &sessionCollector{p: p, desc: prometheus.NewDesc("skyrelay_live_sessions",
		"Live sessions driven by Skyrelay, by step.", []string{"state"}, nil)}
	return m
}

func (m *metrics) message(k cloudapi.Kind) { m.byKind[k].Inc() }

// aclRefused counts one refusal of the embedded broker's topic rule.
func (m *metrics) aclRefused(publish bool) {
	if publish {
		m.refused.WithLabelValues("publish").Inc()
	} else {
		m.refused.WithLabelValues("read").Inc()
	}
}

// sessionCollector counts sessions per step at scrape time.
type sessionCollector struct {
	p    *Plane
	desc *prometheus.Desc
}

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{}
	for _, s := range c.p.Sessions() {
		counts[s.State]++
	}
	for _, st := range steps {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[st]), st)
	}
}

// Collectors returns the plane's Prometheus collectors:
// skyrelay_mqtt_messages_total{topic_kind}, skyrelay_mqtt_malformed_total,
// skyrelay_mqtt_acl_refused_total{action}, skyrelay_devices_online and skyrelay_live_sessions{state}.
func (p *Plane) Collectors() []prometheus.Collector {
	p.ensure()
	return []prometheus.Collector{p.met.messages, p.met.malformed, p.met.refused, p.met.online, p.met.sessions}
}
