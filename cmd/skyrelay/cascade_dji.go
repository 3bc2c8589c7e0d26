package main

import (
	"encoding/json"
	"time"

	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/gb28181/cascade"
)

// djiChannels shows the control plane's devices to the GB28181 upstreams:
// each gateway (dock, remote controller) and sub-device (aircraft) with the
// cameras whose video_id it owns, and their OSD positions. Starting a
// camera for an INVITE needs nothing here: the hub's on-demand hook asks
// the control plane, as for any viewer.
type djiChannels struct{ plane *control.Plane }

// DJI Cloud API domains (dji-cloud-api: topo's "domain").
const (
	djiDomainAircraft = 0
	djiDomainRC       = 2
	djiDomainDock     = 3
)

func djiKind(domain *int) cascade.DeviceKind {
	if domain == nil {
		return ""
	}
	switch *domain {
	case djiDomainAircraft:
		return cascade.KindAircraft
	case djiDomainRC:
		return cascade.KindRC
	case djiDomainDock:
		return cascade.KindDock
	}
	return ""
}

// Devices implements cascade.ChannelSource.
func (d djiChannels) Devices() []cascade.Device {
	var out []cascade.Device
	for _, g := range d.plane.Devices() {
		cams := map[string][]cascade.Camera{}
		for _, c := range g.Cameras {
			owner := c.DeviceSN
			if owner == "" {
				owner = g.SN
			}
			name := c.CameraIndex
			if c.VideoType != "" {
				name += " " + c.VideoType
			}
			cams[owner] = append(cams[owner], cascade.Camera{Path: c.VideoID, Name: name})
		}
		out = append(out, cascade.Device{SN: g.SN, Kind: djiKind(g.Domain), Online: g.Online, Cameras: cams[g.SN]})
		for _, s := range g.SubDevices {
			out = append(out, cascade.Device{SN: s.SN, Kind: djiKind(s.Domain), Online: s.Online, Cameras: cams[s.SN]})
		}
	}
	return out
}

// Position implements cascade.PositionSource from the last OSD of the
// device with that serial number.
func (d djiChannels) Position(sn string) (cascade.Position, bool) {
	for _, g := range d.plane.Devices() {
		if g.SN == sn {
			return osdPosition(g.OSD, g.LastSeen)
		}
		for _, s := range g.SubDevices {
			if s.SN == sn {
				return osdPosition(s.OSD, s.LastSeen)
			}
		}
	}
	return cascade.Position{}, false
}

// osdPosition reads the fields of a DJI OSD that place a device. A device
// without a fix reports 0, 0: no position then.
func osdPosition(osd json.RawMessage, at time.Time) (cascade.Position, bool) {
	var o struct {
		Latitude        *float64 `json:"latitude"`
		Longitude       *float64 `json:"longitude"`
		Height          float64  `json:"height"`
		HorizontalSpeed float64  `json:"horizontal_speed"`
		AttitudeHead    float64  `json:"attitude_head"`
	}
	if len(osd) == 0 || json.Unmarshal(osd, &o) != nil || o.Latitude == nil || o.Longitude == nil ||
		*o.Latitude == 0 && *o.Longitude == 0 || *o.Latitude < -90 || *o.Latitude > 90 || *o.Longitude < -180 || *o.Longitude > 180 {
		return cascade.Position{}, false
	}
	return cascade.Position{Time: at, Latitude: *o.Latitude, Longitude: *o.Longitude, Altitude: o.Height,
		Speed: o.HorizontalSpeed, Heading: o.AttitudeHead}, true
}
