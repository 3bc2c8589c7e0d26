package sim

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"
)

// cloudMessage is the common JSON shape of every Cloud API message
// (docs/dji-cloud-api.md, "Message envelope"), with the data as D.
type cloudMessage[D any] struct {
	TID       string `json:"tid"`
	BID       string `json:"bid"`
	Timestamp int64  `json:"timestamp"`
	Method    string `json:"method,omitempty"`
	Gateway   string `json:"gateway,omitempty"`
	NeedReply *int   `json:"need_reply,omitempty"`
	Data      D      `json:"data"`
}

// envelope is a message received, its data left for the method to read.
type envelope = cloudMessage[json.RawMessage]

// outgoing is a message this device publishes.
type outgoing = cloudMessage[any]

func newMessage(method, deviceSN string, data any) outgoing {
	return outgoing{TID: newUUID(), BID: newUUID(), Timestamp: nowMillis(), Method: method, Gateway: deviceSN, Data: data}
}

// reply answers req on a _reply topic: same tid, bid and method ("Message envelope").
func reply(req envelope, data any) outgoing {
	return outgoing{TID: req.TID, BID: req.BID, Timestamp: nowMillis(), Method: req.Method, Data: data}
}

func nowMillis() int64 { return time.Now().UnixMilli() }

// newUUID returns a random (version 4) UUID string.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Topics (docs/dji-cloud-api.md, "Topics").
func topicStatus(sn string) string           { return "sys/product/" + sn + "/status" }
func topicStatusReply(sn string) string      { return "sys/product/" + sn + "/status_reply" }
func topicOSD(sn string) string              { return "thing/product/" + sn + "/osd" }
func topicState(sn string) string            { return "thing/product/" + sn + "/state" }
func topicServices(sn string) string         { return "thing/product/" + sn + "/services" }
func topicServicesReply(sn string) string    { return "thing/product/" + sn + "/services_reply" }
func topicEvents(sn string) string           { return "thing/product/" + sn + "/events" }
func topicEventsReply(sn string) string      { return "thing/product/" + sn + "/events_reply" }
func topicRequests(sn string) string         { return "thing/product/" + sn + "/requests" }
func topicRequestsReply(sn string) string    { return "thing/product/" + sn + "/requests_reply" }
func topicPropertySet(sn string) string      { return "thing/product/" + sn + "/property/set" }
func topicPropertySetReply(sn string) string { return "thing/product/" + sn + "/property/set_reply" }

// result is the data of a services_reply.
type result struct {
	Result int `json:"result"`
	Output any `json:"output,omitempty"`
	Info   any `json:"info,omitempty"` // legacy slot of the RTSP URL (url_type 2)
}

// updateTopo builds the update_topo data ("Topology: update_topo") with the aircraft attached.
func (m *model) updateTopo() map[string]any {
	a := m.aircraft
	return map[string]any{
		"domain":        fmt.Sprint(m.device.domain),
		"type":          m.device.typ,
		"sub_type":      m.device.subType,
		"device_secret": "sim-secret",
		"nonce":         "sim-nonce",
		"thing_version": m.device.thingVersion,
		"sub_devices": []map[string]any{{
			"sn": a.sn, "domain": fmt.Sprint(a.domain), "type": a.typ, "sub_type": a.subType, "index": a.index,
			"device_secret": "sim-secret", "nonce": "sim-nonce", "thing_version": a.thingVersion,
		}},
	}
}

// Shapes of live_capacity (docs/dji-cloud-api.md, "live_capacity").
type (
	capacity struct {
		Available  int              `json:"available_video_number"`
		CoexistMax int              `json:"coexist_video_number_max"`
		Devices    []capacityDevice `json:"device_list"`
	}
	capacityDevice struct {
		SN         string           `json:"sn"`
		Available  int              `json:"available_video_number"`
		CoexistMax int              `json:"coexist_video_number_max"`
		Cameras    []capacityCamera `json:"camera_list"`
	}
	capacityCamera struct {
		Index      string          `json:"camera_index"`
		Available  int             `json:"available_video_number"`
		CoexistMax int             `json:"coexist_video_number_max"`
		Videos     []capacityVideo `json:"video_list"`
	}
	capacityVideo struct {
		Index      string   `json:"video_index"`
		Type       string   `json:"video_type"`
		Switchable []string `json:"switchable_video_types"`
	}
)

// liveStatus is one entry of the live_status array (current shape, docs/dji-cloud-api.md, "live_status").
type liveStatus struct {
	VideoID      string `json:"video_id"`
	VideoType    string `json:"video_type"`
	VideoQuality int    `json:"video_quality"`
	Status       int    `json:"status"`
	ErrorStatus  int    `json:"error_status"`
}
