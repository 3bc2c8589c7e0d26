package gateway

import (
	"time"

	"github.com/pion/rtp"
)

// Unit is one access unit (video) or one group of audio frames, made once per
// stream and shared by pointer with every reader. Readers must not modify it.
type Unit struct {
	// PTS is in the track's clock rate and continues across publisher
	// reconnects.
	PTS int64
	// Arrival is when the unit reached the gateway; outputs measure the
	// latency they add against it.
	Arrival time.Time
	// Key marks a video unit that starts a GOP; the current parameter sets
	// are prepended to it.
	Key bool
	// Discontinuity marks the first unit of a track after its publisher's
	// clock jumped (an encoder restart): the timeline was rebased, so PTS
	// keeps rising, but outputs that keep runs of media (recording) start a
	// new one here.
	Discontinuity bool
	// Payload is the NAL units of a video access unit (no start codes), the
	// AAC access units, one Opus packet, or G.711 samples.
	Payload [][]byte
	// RTP is the unit packetised once for RTSP and WebRTC readers, with
	// payloads no larger than RTPPayloadMax. The core makes it only while
	// the stream has a reader that needs it (see Reader.SkipRTP), so it is
	// empty for readers that declared they do not.
	RTP []*rtp.Packet

	// packed is set once packetisation was attempted; guarded by the
	// stream's lock.
	packed bool
}

// RTPPayloadMax keeps packets small enough for WebRTC (1200-byte MTU minus
// the RTP header), so RTSP and WebRTC readers can share the same packets.
const RTPPayloadMax = 1188

// Frame is what a reader receives: a unit of a track. Backlog marks units of
// the current GOP replayed to a reader that just joined, so that outputs can
// hurry through them to show a picture at once.
type Frame struct {
	Track   *Track
	Unit    *Unit
	Backlog bool
}
