package control

import "strings"

// topicKind is what a subscribed topic carries.
type topicKind int

const (
	kindUnknown topicKind = iota
	kindStatus
	kindOSD
	kindState
	kindServicesReply
	kindEvents
	kindRequests
	kindPropertySetReply
	kindDRCUp
	kindCount
)

// kindNames label skyrelay_mqtt_messages_total.
var kindNames = [kindCount]string{"unknown", "status", "osd", "state", "services_reply", "events", "requests", "property_set_reply", "drc_up"}

func (k topicKind) String() string { return kindNames[k] }

// subscriptions are the filters the plane listens to (dji-cloud-api.md §3,
// the simple once-only variant).
var subscriptions = []string{
	"sys/product/+/status",
	"thing/product/+/osd",
	"thing/product/+/state",
	"thing/product/+/services_reply",
	"thing/product/+/events",
	"thing/product/+/requests",
	"thing/product/+/property/set_reply",
	"thing/product/+/drc/up",
}

// parseTopic splits a device topic into its SN and kind.
func parseTopic(t string) (sn string, kind topicKind) {
	var rest string
	sys := false
	switch {
	case strings.HasPrefix(t, "thing/product/"):
		rest = t[len("thing/product/"):]
	case strings.HasPrefix(t, "sys/product/"):
		rest = t[len("sys/product/"):]
		sys = true
	default:
		return "", kindUnknown
	}
	sn, suffix, ok := strings.Cut(rest, "/")
	if !ok || sn == "" {
		return "", kindUnknown
	}
	if sys {
		if suffix == "status" {
			return sn, kindStatus
		}
		return sn, kindUnknown
	}
	switch suffix {
	case "osd":
		return sn, kindOSD
	case "state":
		return sn, kindState
	case "services_reply":
		return sn, kindServicesReply
	case "events":
		return sn, kindEvents
	case "requests":
		return sn, kindRequests
	case "property/set_reply":
		return sn, kindPropertySetReply
	case "drc/up":
		return sn, kindDRCUp
	}
	return sn, kindUnknown
}

func topicServices(gw string) string      { return "thing/product/" + gw + "/services" }
func topicStatusReply(gw string) string   { return "sys/product/" + gw + "/status_reply" }
func topicStateReply(sn string) string    { return "thing/product/" + sn + "/state_reply" }
func topicEventsReply(gw string) string   { return "thing/product/" + gw + "/events_reply" }
func topicRequestsReply(gw string) string { return "thing/product/" + gw + "/requests_reply" }
