package sim

import "strings"

// What each simulated product is: identifiers and live_capacity shapes as
// docs/dji-cloud-api.md describes them ("Topology: update_topo", "Identifiers:
// video_id", "live_capacity").

// Default serial numbers. They look like DJI SNs but say "SIM" so that no one
// mistakes them for real hardware.
const (
	DefaultDockSN         = "DOCK3SIM0000001"
	DefaultDockAircraftSN = "1581FSIMM4TD0001"
	DefaultRCSN           = "RCP2SIM00000001"
	DefaultRCAircraftSN   = "1581FSIMM4T00001"
)

// Error-code origin digits (docs/dji-cloud-api.md, "Error codes"): the first of six digits.
const (
	originDock  = 5
	originPilot = 6
)

// Reasons in module 13 (live streaming), without the origin digit.
const (
	reasonNoAircraft     = 13001
	reasonNoCamera       = 13002
	reasonAlreadyLive    = 13003
	reasonUnsupported    = 13004
	reasonBadQuality     = 13005
	reasonUnreachable    = 13010
	reasonNotLive        = 13011
	reasonURLTypeUnsup   = 13013
	reasonBadURL         = 13014
	reasonCongestion     = 13015
	reasonUnknownFailure = 13099
)

// node is one node of the topology: the dock or remote controller, or its
// aircraft.
type node struct {
	sn            string
	domain        int // 0 aircraft, 2 remote controller, 3 dock
	typ, subType  int
	index         string // the channel of the dock or RC an aircraft uses ("A")
	thingVersion  string
	firmware      string
	availableVids int // available_video_number in live_capacity
	coexistVids   int // coexist_video_number_max in live_capacity
}

// camera is one video source of live_capacity: one camera with one
// video_index whose lens can be switched (the current Dock 3 / RC Plus 2
// shape).
type camera struct {
	owner      string // SN of the device that has the camera
	index      string // camera_index: type-subtype-gimbal
	videoIndex string // e.g. normal-0
	lens       string // current video_type
	switchable []string
}

func (c *camera) videoID() string { return c.owner + "/" + c.index + "/" + c.videoIndex }

// model describes one simulated product (dock or remote controller) with its aircraft.
type model struct {
	name       string // for logs: "dock" or "rc"
	origin     int    // error-code origin digit
	device     node
	aircraft   node
	cameras    []*camera
	available  int  // device-level available_video_number
	coexistMax int  // device-level coexist_video_number_max
	config     bool // asks for the Dock "config" request on connect

	// What a Dock 3 does that a remote controller does not
	// (docs/field-quirks.md):
	// osdFragments splits the device's osd into messages of these keys,
	// sent in turn, none in common; nil sends it whole.
	osdFragments [][]string
	// forwardsAircraftEvents: the aircraft's hms events go out on the
	// aircraft's own events topic, with the dock in "gateway".
	forwardsAircraftEvents bool
	// lensNamedStatus: live_status names a push by the lens the camera
	// had when it started (".../99-0-0/wide-0"), not by the video_id of
	// live_capacity and live_start_push (".../99-0-0/normal-0").
	lensNamedStatus bool
}

// dock3OSDFragments are the key sets of a Dock 3's osd messages.
var dock3OSDFragments = [][]string{
	{"mode_code", "latitude", "longitude", "height", "cover_state", "drone_in_dock"},
	{"drone_charge_state", "network_state", "temperature", "humidity", "environment_temperature", "wind_speed", "rainfall"},
	{"sub_device", "media_file_detail"},
}

// statusVideoID is the video_id live_status gives the push of cam, which
// was started as requested.
func (m *model) statusVideoID(cam *camera, requested string) string {
	if m.lensNamedStatus {
		return cam.owner + "/" + cam.index + "/" + cam.lens + "-0"
	}
	return requested
}

// dock3Model is a DJI Dock 3 with a Matrice 4TD: dock camera 165-0-7 and the
// aircraft's auxiliary (176-0-0) and main (99-0-0) cameras, three streams at
// once, as in the real capture in docs/dji-cloud-api.md, "live_capacity".
func dock3Model(dockSN, aircraftSN string) *model {
	return &model{
		name:   "dock",
		origin: originDock,
		device: node{sn: dockSN, domain: 3, typ: 3, subType: 0, thingVersion: "1.3.0",
			firmware: "10.01.2001", availableVids: 1, coexistVids: 1},
		aircraft: node{sn: aircraftSN, domain: 0, typ: 100, subType: 1, index: "A", thingVersion: "1.3.0",
			firmware: "10.01.2002", availableVids: 2, coexistVids: 1},
		cameras: []*camera{
			{owner: dockSN, index: "165-0-7", videoIndex: "normal-0", lens: "normal", switchable: []string{"normal"}},
			{owner: aircraftSN, index: "176-0-0", videoIndex: "normal-0", lens: "normal", switchable: []string{"normal"}},
			{owner: aircraftSN, index: "99-0-0", videoIndex: "normal-0", lens: "wide", switchable: []string{"normal", "wide", "zoom", "ir"}},
		},
		available:              3,
		coexistMax:             3,
		config:                 true,
		osdFragments:           dock3OSDFragments,
		forwardsAircraftEvents: true,
		lensNamedStatus:        true,
	}
}

// rcPlus2Model is a DJI RC Plus 2 running Pilot 2 with a Matrice 4T: the
// aircraft's main camera (89-0-0), one stream at a time.
func rcPlus2Model(rcSN, aircraftSN string) *model {
	return &model{
		name:   "rc",
		origin: originPilot,
		device: node{sn: rcSN, domain: 2, typ: 174, subType: 0, thingVersion: "1.2.0",
			firmware: "03.02.0105"},
		aircraft: node{sn: aircraftSN, domain: 0, typ: 99, subType: 1, index: "A", thingVersion: "1.2.0",
			firmware: "10.01.0107", availableVids: 1, coexistVids: 1},
		cameras: []*camera{
			{owner: aircraftSN, index: "89-0-0", videoIndex: "normal-0", lens: "wide", switchable: []string{"normal", "wide", "zoom", "ir"}},
		},
		available:  1,
		coexistMax: 1,
	}
}

// code turns a module-13 reason into this product's six-digit error code.
func (m *model) code(reason int) int { return m.origin*100000 + reason }

// cameraByID finds a camera by video_id; reason says why not when nil.
func (m *model) cameraByID(videoID string) (c *camera, reason int) {
	sn, rest, _ := strings.Cut(videoID, "/")
	if sn != m.device.sn && sn != m.aircraft.sn {
		return nil, reasonNoAircraft
	}
	for _, c := range m.cameras {
		if c.videoID() == videoID {
			return c, 0
		}
	}
	// The suffix of a video_id is a handle, not the current lens ("Identifiers: video_id"): accept
	// any video_index on a known camera.
	index, _, _ := strings.Cut(rest, "/")
	for _, c := range m.cameras {
		if c.owner == sn && c.index == index {
			return c, 0
		}
	}
	return nil, reasonNoCamera
}
