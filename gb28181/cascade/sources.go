package cascade

import (
	"context"
	"time"
)

// DeviceKind is what a DJI device is: it decides the words in its name.
type DeviceKind string

// Kinds of DJI device.
const (
	KindDock     DeviceKind = "dock"
	KindRC       DeviceKind = "rc"
	KindAircraft DeviceKind = "aircraft"
)

// Device is one DJI device (dock, remote controller, aircraft) as the
// control plane knows it.
type Device struct {
	SN     string
	Kind   DeviceKind
	Name   string // readable: "Dock 3", the callsign, "机场1"
	Model  string // e.g. "M3TD"
	Online bool
	// Cameras are the device's video sources, each played on its Path (the
	// DJI video_id path, e.g. SN/165-0-7/normal-0).
	Cameras []Camera
}

// Camera is one video source of a DJI device.
type Camera struct {
	Path string
	Name string // readable: "wide", "zoom", "FPV"
}

// ChannelSource lists the DJI devices and cameras offered upstream. The
// control plane implements it; nil offers only the hub's streams.
type ChannelSource interface {
	Devices() []Device
}

// Starter starts a DJI camera that is not live (live_start_push) for an
// INVITE and lets it go when the INVITE ends; the control plane stops it
// after its idle delay once nobody needs it. nil leaves starting to the
// hub's on-demand hook.
type Starter interface {
	Start(ctx context.Context, path string) (release func(), err error)
}

// Position is an aircraft's place from its OSD.
type Position struct {
	Time      time.Time
	Latitude  float64 // degrees, WGS-84
	Longitude float64
	Altitude  float64 // metres
	Speed     float64 // metres per second, horizontal
	Heading   float64 // degrees clockwise from north, -180..360
}

// PositionSource gives the last OSD position of a device by serial
// number; ok is false while none is known.
type PositionSource interface {
	Position(sn string) (p Position, ok bool)
}
