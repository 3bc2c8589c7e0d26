package cloudapi

import "strings"

// Kind is what a subscribed topic carries.
type Kind int

const (
	KindUnknown Kind = iota
	KindStatus
	KindOSD
	KindState
	KindServicesReply
	KindEvents
	KindRequests
	KindPropertySetReply
	KindDRCUp
	KindCount
)

// kindNames label skyrelay_mqtt_messages_total.
var kindNames = [KindCount]string{"unknown", "status", "osd", "state", "services_reply", "events", "requests", "property_set_reply", "drc_up"}

func (k Kind) String() string { return kindNames[k] }

// Subscriptions are the filters the plane listens to: the simple
// once-only variant of docs/dji-cloud-api.md (topics).
var Subscriptions = []string{
	"sys/product/+/status",
	"thing/product/+/osd",
	"thing/product/+/state",
	"thing/product/+/services_reply",
	"thing/product/+/events",
	"thing/product/+/requests",
	"thing/product/+/property/set_reply",
	"thing/product/+/drc/up",
}

// The two topic trees of the Cloud API; the device SN is the third level.
const (
	thingTree = "thing/product/"
	sysTree   = "sys/product/"
)

// split cuts a DJI topic (or filter) into its tree, SN and suffix.
func split(t string) (sys bool, sn, suffix string, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(t, thingTree):
		rest = t[len(thingTree):]
	case strings.HasPrefix(t, sysTree):
		rest, sys = t[len(sysTree):], true
	default:
		return false, "", "", false
	}
	sn, suffix, ok = strings.Cut(rest, "/")
	return sys, sn, suffix, ok && sn != ""
}

// ParseTopic splits a device topic into its SN and kind.
func ParseTopic(t string) (sn string, kind Kind) {
	sys, sn, suffix, ok := split(t)
	if !ok {
		return "", KindUnknown
	}
	if sys {
		if suffix == "status" {
			return sn, KindStatus
		}
		return sn, KindUnknown
	}
	switch suffix {
	case "osd":
		return sn, KindOSD
	case "state":
		return sn, KindState
	case "services_reply":
		return sn, KindServicesReply
	case "events":
		return sn, KindEvents
	case "requests":
		return sn, KindRequests
	case "property/set_reply":
		return sn, KindPropertySetReply
	case "drc/up":
		return sn, KindDRCUp
	}
	return sn, KindUnknown
}

// SN returns the literal SN of a DJI topic or subscription filter: false
// for other topics, a wildcard in the SN position or nothing after it.
func SN(topic string) (string, bool) {
	_, sn, suffix, ok := split(topic)
	if !ok || suffix == "" || strings.ContainsAny(sn, "+#") {
		return "", false
	}
	return sn, true
}

// Topics the plane publishes on, and those it names in its logs.
func TopicServices(sn string) string      { return thingTree + sn + "/services" }
func TopicStatusReply(sn string) string   { return sysTree + sn + "/status_reply" }
func TopicStateReply(sn string) string    { return thingTree + sn + "/state_reply" }
func TopicEventsReply(sn string) string   { return thingTree + sn + "/events_reply" }
func TopicRequestsReply(sn string) string { return thingTree + sn + "/requests_reply" }
func TopicStatus(sn string) string        { return sysTree + sn + "/status" }
func TopicOSD(sn string) string           { return thingTree + sn + "/osd" }
func TopicState(sn string) string         { return thingTree + sn + "/state" }
func TopicRequests(sn string) string      { return thingTree + sn + "/requests" }

// ReplyOwed are the filters whose messages may need a reply from the cloud
// (update_topo, state and events with need_reply, requests). In a cluster
// each node also subscribes to them through a shared subscription, and only
// the copy that arrives there is answered (docs/cluster.md).
var ReplyOwed = []string{
	"sys/product/+/status",
	"thing/product/+/state",
	"thing/product/+/events",
	"thing/product/+/requests",
}
