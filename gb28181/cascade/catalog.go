package cascade

import (
	"strconv"
	"strings"

	"github.com/skyrelay/skyrelay/gateway"
)

// Kinds of channel in the catalog tree.
const (
	chanDevice = "device" // a DJI device: parent of its cameras
	chanCamera = "camera" // a DJI camera
	chanStream = "stream" // a stream pushed to the gateway
)

// channel is one catalog entry: the gateway is the root, DJI devices hang
// under it with their cameras under them, pushed streams hang under it
// directly.
type channel struct {
	ID       string
	Path     string // what an INVITE plays; empty for a device
	Name     string
	Kind     string
	ParentID string
	SN       string // the DJI device's serial number (positions)
	Model    string
	Online   bool
}

// Channel is a channel as the API shows it.
type Channel struct {
	ID   string `json:"id"`
	Path string `json:"path"`
	Name string `json:"name"`
}

// kindWords names a DJI device kind in a catalog name.
var kindWords = map[DeviceKind]string{KindDock: "dock", KindRC: "remote controller", KindAircraft: "aircraft"}

// buildCatalog lists what an upstream may see: every DJI device with an
// offered camera, those cameras, and the offered streams of the hub that
// are not DJI cameras, in this order (devices before their cameras, so an
// upper platform reading serially always knows the parent).
func buildCatalog(gatewayID string, t *ids, globs []string, src ChannelSource, hub *gateway.Hub) []channel {
	var out []channel
	cameraPaths := map[string]bool{}
	if src != nil {
		for _, d := range src.Devices() {
			var cams []channel
			devID := t.id(typeNVR, "dji:"+d.SN)
			for _, c := range d.Cameras {
				if c.Path == "" || cameraPaths[c.Path] {
					continue
				}
				cameraPaths[c.Path] = true
				if !offered(globs, c.Path) {
					continue
				}
				cams = append(cams, channel{ID: t.id(typeCamera, c.Path), Path: c.Path, Kind: chanCamera, ParentID: devID,
					Name: cameraName(d, c), SN: d.SN, Model: d.Model, Online: d.Online})
			}
			if len(cams) == 0 {
				continue
			}
			out = append(out, channel{ID: devID, Kind: chanDevice, ParentID: gatewayID, Name: deviceName(d), SN: d.SN, Model: d.Model, Online: d.Online})
			out = append(out, cams...)
		}
	}
	if hub != nil {
		for _, s := range hub.Streams() {
			p := s.Path()
			if cameraPaths[p] || !offered(globs, p) {
				continue
			}
			_, live := s.Source()
			out = append(out, channel{ID: t.id(typeIPC, p), Path: p, Kind: chanStream, ParentID: gatewayID, Name: p, Online: live})
		}
	}
	return out
}

// cameraName is the device and camera in words, then the path; a device
// with no name of its own is named by its kind alone, as its serial
// number starts the path anyway (names stay short enough for UDP).
func cameraName(d Device, c Camera) string {
	n := d.Name
	if w := kindWords[d.Kind]; w != "" {
		n = strings.TrimSpace(w + " " + n)
	}
	return strings.Join(strings.Fields(n+" "+c.Name+" "+c.Path), " ")
}

func deviceName(d Device) string {
	n := d.Name
	if n == "" {
		n = d.SN
	}
	if w := kindWords[d.Kind]; w != "" {
		n = w + " " + n
	}
	return n
}

// civilCode is the administrative region of an id: its first 6 digits
// (wvp drops codes longer than 8).
func civilCode(id string) string {
	if len(id) < 6 {
		return ""
	}
	return id[:6]
}

// toItem writes a channel as a full catalog item.
func (c channel) toItem(pos PositionSource) item {
	it := item{DeviceID: c.ID, Name: c.Name, Manufacturer: "Skyrelay", Model: "stream", Owner: "skyrelay",
		CivilCode: civilCode(c.ID), Address: c.Path, Parental: "0", ParentID: c.ParentID,
		SafetyWay: "0", RegisterWay: "1", Secrecy: "0", Status: onOff(c.Online)}
	if c.Kind != chanStream {
		it.Manufacturer, it.Model = "DJI", c.Model
		if it.Model == "" {
			it.Model = "DJI"
		}
	}
	if c.Kind == chanDevice {
		it.Parental, it.Address = "1", c.SN
	}
	if pos != nil && c.SN != "" {
		if p, ok := pos.Position(c.SN); ok {
			it.Longitude, it.Latitude = coord(p.Longitude), coord(p.Latitude)
		}
	}
	return it
}

func onOff(on bool) string {
	if on {
		return "ON"
	}
	return "OFF"
}

func coord(v float64) string { return strconv.FormatFloat(v, 'f', 7, 64) }

// catalogEvent is one change for a Catalog NOTIFY (GB/T 28181-2016 Annex
// P.4.2): ADD and UPDATE carry the whole item, ON, OFF and DEL only the id.
type catalogEvent struct {
	ch    channel
	event string
}

// diffCatalog lists what changed from old to cur.
func diffCatalog(old, cur []channel) []catalogEvent {
	prev := make(map[string]channel, len(old))
	for _, c := range old {
		prev[c.ID] = c
	}
	var ev []catalogEvent
	seen := make(map[string]bool, len(cur))
	for _, c := range cur {
		seen[c.ID] = true
		p, ok := prev[c.ID]
		switch {
		case !ok:
			ev = append(ev, catalogEvent{c, "ADD"})
		case p.Name != c.Name || p.ParentID != c.ParentID || p.Path != c.Path:
			ev = append(ev, catalogEvent{c, "UPDATE"})
		case p.Online != c.Online:
			ev = append(ev, catalogEvent{c, onOff(c.Online)})
		}
	}
	for _, c := range old {
		if !seen[c.ID] {
			ev = append(ev, catalogEvent{c, "DEL"})
		}
	}
	return ev
}

// eventItem writes an event as its NOTIFY item.
func (e catalogEvent) eventItem(pos PositionSource) item {
	if e.event == "ADD" || e.event == "UPDATE" {
		it := e.ch.toItem(pos)
		it.Event = e.event
		return it
	}
	return item{DeviceID: e.ch.ID, Event: e.event}
}
