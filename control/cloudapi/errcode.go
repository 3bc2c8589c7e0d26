package cloudapi

import "fmt"

// DeviceError is a non-zero result or error_status from a device, decoded
// with the code structure in docs/dji-cloud-api.md (error codes): six digits ABCDEF, A the
// origin, BC the module, DEF the reason.
type DeviceError struct {
	Code int `json:"device_code"`
	// Source is the origin digit in words: device (3), pilot (4 or 6),
	// dock (5), or unknown.
	Source string `json:"source"`
	// Module is BC (13 = live streaming), -1 when the code is not six digits.
	Module int `json:"module"`
	// Reason is DEF.
	Reason  int    `json:"reason"`
	Message string `json:"message"`
}

func (e *DeviceError) Error() string {
	return fmt.Sprintf("%s error %d: %s", e.Source, e.Code, e.Message)
}

// moduleNames names the modules that matter here.
var moduleNames = map[int]string{
	13: "live streaming",
	27: "camera and payload",
}

// reasons are the live-streaming reasons (module 13), the same for every
// origin: 513015 and 613015 share one meaning.
var reasons = map[int]string{
	13001: "the aircraft is not there or its SN does not match the connected aircraft",
	13002: "the camera is absent or the wrong type for this request",
	13003: "this camera is already streaming; stop it before starting again",
	13004: "the function is not supported",
	13005: "the quality setting is not supported",
	13006: "live start failed: on Pilot, the pilot is not on the camera/liveview screen; on a dock, refresh and retry (common right after the device comes online)",
	13007: "no flight-control authority",
	13008: "no video data from the aircraft (transmission abnormal)",
	13009: "too frequent: the previous live request is still being handled",
	13010: "could not reach the live service, or the device has no network (also seen when a WHIP endpoint is incompatible)",
	13011: "nothing is streaming",
	13012: "another stream is already live and direct switching is not supported",
	13013: "url_type not supported by this device",
	13014: "the push url parameters are malformed or incomplete",
	13015: "network congestion during live; refresh and retry",
	13016: "live video decoding failed",
	13017: "live paused while the aircraft's media files are downloaded",
	13099: "unknown live error; try later",
}

// fullCodes are codes whose meaning depends on the origin digit too.
var fullCodes = map[int]string{
	327015: "starting the livestream failed; refresh the live view or reopen the device window",
}

// DecodeError explains a device result code. Codes this table does not know
// still show their origin, module and number, since DJI leaves some codes
// undocumented (513001 is one).
func DecodeError(code int) *DeviceError {
	e := &DeviceError{Code: code, Source: "unknown", Module: -1, Reason: -1}
	if code < 100000 || code > 999999 {
		switch code {
		case -1:
			e.Message = "generic error (-1)"
		default:
			e.Message = fmt.Sprintf("error code %d (not in the six-digit DJI code space)", code)
		}
		return e
	}
	switch code / 100000 {
	case 3:
		e.Source = "device"
	case 4, 6:
		e.Source = "pilot"
	case 5:
		e.Source = "dock"
	}
	e.Module = code / 1000 % 100
	e.Reason = code % 1000
	if m, ok := fullCodes[code]; ok {
		e.Message = m
		return e
	}
	if m, ok := reasons[code%100000]; ok && e.Module == 13 {
		e.Message = m
		return e
	}
	mod := moduleNames[e.Module]
	if mod == "" {
		mod = fmt.Sprintf("module %02d", e.Module)
	}
	e.Message = fmt.Sprintf("undocumented code: origin %s (digit %d), %s, number %03d", e.Source, code/100000, mod, e.Reason)
	return e
}

// IsRetryAfterOnline is x13006, the refusal devices give for a while after
// they (or their aircraft) come online.
func IsRetryAfterOnline(code int) bool {
	return code >= 100000 && code <= 999999 && code%100000 == 13006
}
