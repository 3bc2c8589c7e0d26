package platform

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the platform's counters, read by Prometheus on scrape. They
// are plain atomics so that the SIP handlers pay nothing for them.
type metrics struct {
	p *Platform

	registers        atomic.Uint64 // REGISTER requests, challenges included
	registerFailures atomic.Uint64 // refused (bad id, no password, wrong digest)
	messages         atomic.Uint64 // MESSAGE requests
	badMessages      atomic.Uint64 // MESSAGE bodies that were not MANSCDP
	keepalives       atomic.Uint64 // keepalives of registered devices
	addressRefused   atomic.Uint64 // MESSAGEs from another IP than the registration
	sessionsStarted  atomic.Uint64
	invitesCanceled  atomic.Uint64 // INVITEs not answered in time, cancelled
	devicesOffline   atomic.Uint64 // online devices that went silent
	sessionsEnded    atomic.Uint64
	mediaPackets     atomic.Uint64 // RTP packets of ended sessions
	mediaLost        atomic.Uint64 // RTP packets lost in ended sessions
	mediaBytes       atomic.Uint64
}

func newMetrics(p *Platform) *metrics { return &metrics{p: p} }

// addEnded folds an ended session's counters into the totals.
func (m *metrics) addEnded(s *Session) {
	in := s.Info()
	m.sessionsEnded.Add(1)
	m.mediaPackets.Add(in.Packets)
	m.mediaLost.Add(in.Lost)
	m.mediaBytes.Add(in.Bytes)
}

var (
	descRegisters     = prometheus.NewDesc("skyrelay_gb28181_registers_total", "SIP REGISTER requests received (challenges included).", nil, nil)
	descRegisterFails = prometheus.NewDesc("skyrelay_gb28181_register_failures_total", "REGISTER requests refused (bad id, no password, wrong credentials).", nil, nil)
	descMessages      = prometheus.NewDesc("skyrelay_gb28181_messages_total", "SIP MESSAGE requests received.", nil, nil)
	descBadMessages   = prometheus.NewDesc("skyrelay_gb28181_messages_malformed_total", "MESSAGE bodies that could not be read as MANSCDP (answered 200 anyway).", nil, nil)
	descKeepalives    = prometheus.NewDesc("skyrelay_gb28181_keepalives_total", "Keepalives from registered devices.", nil, nil)
	descAddrRefused   = prometheus.NewDesc("skyrelay_gb28181_address_changes_refused_total", "Unauthenticated MESSAGEs from another IP than the device's registration.", nil, nil)
	descDevices       = prometheus.NewDesc("skyrelay_gb28181_devices", "Known devices, by whether they are online.", []string{"online"}, nil)
	descSessions      = prometheus.NewDesc("skyrelay_gb28181_sessions", "Live media sessions.", nil, nil)
	descStarted       = prometheus.NewDesc("skyrelay_gb28181_sessions_started_total", "Media sessions set up (INVITE answered and ACKed).", nil, nil)
	descEnded         = prometheus.NewDesc("skyrelay_gb28181_sessions_ended_total", "Media sessions ended.", nil, nil)
	descPackets       = prometheus.NewDesc("skyrelay_gb28181_rtp_packets_total", "RTP packets received on media ports.", nil, nil)
	descLost          = prometheus.NewDesc("skyrelay_gb28181_rtp_lost_total", "RTP packets counted lost by sequence number.", nil, nil)
	descBytes         = prometheus.NewDesc("skyrelay_gb28181_rtp_bytes_total", "RTP bytes received on media ports.", nil, nil)
	descCanceled      = prometheus.NewDesc("skyrelay_gb28181_invites_canceled_total", "INVITEs a device did not answer in time (or whose push was revoked), cancelled.", nil, nil)
	descWentOffline   = prometheus.NewDesc("skyrelay_gb28181_devices_offline_total", "Online devices that stopped keeping alive and went offline.", nil, nil)
	descPorts         = prometheus.NewDesc("skyrelay_gb28181_media_ports_in_use", "Media ports held by sessions.", nil, nil)
)

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRegisters, descRegisterFails, descMessages, descBadMessages, descKeepalives,
		descAddrRefused, descDevices, descSessions, descStarted, descEnded, descPackets, descLost, descBytes, descPorts, descCanceled, descWentOffline} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Media counters are the ended
// sessions' totals plus what live sessions received so far.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	if m.p.ports == nil {
		return // not initialized
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descRegisters, m.registers.Load())
	counter(descRegisterFails, m.registerFailures.Load())
	counter(descMessages, m.messages.Load())
	counter(descBadMessages, m.badMessages.Load())
	counter(descKeepalives, m.keepalives.Load())
	counter(descAddrRefused, m.addressRefused.Load())
	counter(descStarted, m.sessionsStarted.Load())
	counter(descEnded, m.sessionsEnded.Load())
	counter(descCanceled, m.invitesCanceled.Load())
	counter(descWentOffline, m.devicesOffline.Load())

	online, offline := 0, 0
	for _, d := range m.p.Devices() {
		if d.Online {
			online++
		} else {
			offline++
		}
	}
	ch <- prometheus.MustNewConstMetric(descDevices, prometheus.GaugeValue, float64(online), "true")
	ch <- prometheus.MustNewConstMetric(descDevices, prometheus.GaugeValue, float64(offline), "false")

	live := m.p.Sessions()
	pk, lost, by := m.mediaPackets.Load(), m.mediaLost.Load(), m.mediaBytes.Load()
	for _, s := range live {
		pk += s.Packets
		lost += s.Lost
		by += s.Bytes
	}
	ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(len(live)))
	counter(descPackets, pk)
	counter(descLost, lost)
	counter(descBytes, by)
	ch <- prometheus.MustNewConstMetric(descPorts, prometheus.GaugeValue, float64(m.p.ports.inUse()))
}

// Collector returns the platform's Prometheus collector (skyrelay_gb28181_*
// series). It may be registered before Initialize; it reports nothing
// until then.
func (p *Platform) Collector() prometheus.Collector {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.metrics == nil {
		p.metrics = newMetrics(p)
	}
	return p.metrics
}
