package cascade

import "github.com/prometheus/client_golang/prometheus"

var (
	mLabels         = []string{"upstream"}
	descRegistered  = prometheus.NewDesc("skyrelay_gb28181_upstream_registered", "1 while the upstream holds our registration.", mLabels, nil)
	descRegisters   = prometheus.NewDesc("skyrelay_gb28181_upstream_registers_total", "REGISTER transactions sent (refreshes and unregister included).", mLabels, nil)
	descRegFails    = prometheus.NewDesc("skyrelay_gb28181_upstream_register_failures_total", "Registrations that failed.", mLabels, nil)
	descKeepalives  = prometheus.NewDesc("skyrelay_gb28181_upstream_keepalives_total", "Keepalives the upstream answered 200.", mLabels, nil)
	descKAFails     = prometheus.NewDesc("skyrelay_gb28181_upstream_keepalive_failures_total", "Keepalives unanswered or refused.", mLabels, nil)
	descRequests    = prometheus.NewDesc("skyrelay_gb28181_upstream_requests_total", "SIP requests from the upstream.", mLabels, nil)
	descBadRequests = prometheus.NewDesc("skyrelay_gb28181_upstream_requests_refused_total", "Requests refused as malformed or not from the upstream.", mLabels, nil)
	descCatalogs    = prometheus.NewDesc("skyrelay_gb28181_upstream_catalog_queries_total", "Catalog queries answered.", mLabels, nil)
	descInvites     = prometheus.NewDesc("skyrelay_gb28181_upstream_invites_total", "INVITEs received.", mLabels, nil)
	descInvRefused  = prometheus.NewDesc("skyrelay_gb28181_upstream_invites_refused_total", "INVITEs answered with an error.", mLabels, nil)
	descSessions    = prometheus.NewDesc("skyrelay_gb28181_upstream_sessions", "Live INVITE sessions.", mLabels, nil)
	descNotifies    = prometheus.NewDesc("skyrelay_gb28181_upstream_notifies_total", "NOTIFYs sent (Catalog and MobilePosition).", mLabels, nil)
	descRTPPackets  = prometheus.NewDesc("skyrelay_gb28181_upstream_rtp_packets_total", "RTP packets sent.", mLabels, nil)
	descRTPBytes    = prometheus.NewDesc("skyrelay_gb28181_upstream_rtp_bytes_total", "RTP bytes sent.", mLabels, nil)
	allDescs        = []*prometheus.Desc{descRegistered, descRegisters, descRegFails, descKeepalives, descKAFails, descRequests,
		descBadRequests, descCatalogs, descInvites, descInvRefused, descSessions, descNotifies, descRTPPackets, descRTPBytes}
)

type collector struct{ c *Cascade }

// Collector returns the skyrelay_gb28181_upstream_* series, labelled by
// upstream name.
func (c *Cascade) Collector() prometheus.Collector { return collector{c} }

func (k collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func (k collector) Collect(ch chan<- prometheus.Metric) {
	for _, u := range k.c.ups {
		n := u.Name
		cnt := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), n)
		}
		reg := 0.0
		if u.State() == StateRegistered {
			reg = 1
		}
		ch <- prometheus.MustNewConstMetric(descRegistered, prometheus.GaugeValue, reg, n)
		ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(len(u.Sessions())), n)
		s := &u.stats
		cnt(descRegisters, s.registers.Load())
		cnt(descRegFails, s.registerFailures.Load())
		cnt(descKeepalives, s.keepalives.Load())
		cnt(descKAFails, s.keepaliveFailures.Load())
		cnt(descRequests, s.requests.Load())
		cnt(descBadRequests, s.badRequests.Load())
		cnt(descCatalogs, s.catalogs.Load())
		cnt(descInvites, s.invites.Load())
		cnt(descInvRefused, s.invitesRefused.Load())
		cnt(descNotifies, s.notifies.Load())
		cnt(descRTPPackets, s.rtpPackets.Load())
		cnt(descRTPBytes, s.rtpBytes.Load())
	}
}
