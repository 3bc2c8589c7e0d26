package record

import (
	"encoding/json"
	"os"
	"time"
)

// Device is what the control plane knows about the video a path carries:
// which aircraft or dock camera, which DJI video_id, which flight.
type Device struct {
	SN       string `json:"device_sn,omitempty"`
	VideoID  string `json:"video_id,omitempty"`
	FlightID string `json:"flight_id,omitempty"` // the dock's flight task or wayline job id
}

// ReaderProtocol is the protocol of the recorder's reader of a stream.
// The recorder is no viewer: whoever counts viewers (the control plane's
// idle stop) leaves readers of this protocol out.
const ReaderProtocol = "record"

// osdLine is one line of a segment's .osd.jsonl: the wall-clock time, the
// offset in seconds from the segment's start (the time in its MP4), and
// the message as the device sent it.
type osdLine struct {
	Time   time.Time       `json:"t"`
	Offset float64         `json:"offset"`
	OSD    json.RawMessage `json:"osd"`
}

// osdSample is an OSD message on its way to a path's writer.
type osdSample struct {
	at  time.Time
	osd json.RawMessage
}

// writeMeta stores a segment's device metadata beside it.
func writeMeta(segment string, d Device) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	tmp := sidecar(segment, metaExt) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, sidecar(segment, metaExt))
}

// readMeta reads it back; a missing or broken file is no metadata.
func readMeta(segment string) Device {
	var d Device
	if b, err := os.ReadFile(sidecar(segment, metaExt)); err == nil {
		_ = json.Unmarshal(b, &d)
	}
	return d
}
