package web

import (
	"net/url"
	"strings"
)

// TelemetryPaths is what a telemetry request's ?path= names (the key may
// repeat: a wall asks for all its tiles), slashes trimmed; named is false
// when the key is absent. An empty value stays in the list (it films
// nothing), so that the API guard can refuse it.
func TelemetryPaths(q url.Values) (paths []string, named bool) {
	vs, named := q["path"]
	for _, p := range vs {
		paths = append(paths, strings.Trim(strings.TrimSpace(p), "/"))
	}
	return paths, named
}

// filmingDevices is whose telemetry belongs to some paths: devices by SN,
// and every device under a gateway (by the gateway's SN).
type filmingDevices struct {
	sns, gateways map[string]bool
}

// filming finds the devices that film paths, as the overlay picks them: a
// DJI video_id (SN/camera/video) starts with the SN of the device that
// films it; a Pilot push pilot/RCSN is filmed by the aircraft flying
// under controller RCSN, whose telemetry is the controller's and its
// aircraft's. Nothing else belongs to a path: a token that may read P
// sees no other device.
func filming(paths []string) *filmingDevices {
	f := &filmingDevices{sns: map[string]bool{}, gateways: map[string]bool{}}
	for _, p := range paths {
		first, rest, _ := strings.Cut(p, "/")
		rc, _, _ := strings.Cut(rest, "/")
		switch {
		case first == "pilot" && rc != "":
			f.sns[rc], f.gateways[rc] = true, true
		case first != "":
			f.sns[first] = true
		}
	}
	return f
}
