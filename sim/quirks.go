package sim

import (
	"encoding/binary"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// What a DJI Dock 3 puts into its RTMP H.264 that a clean encoder does not
// (docs/dji-cloud-api.md, "Media the devices send";
// docs/field-quirks.md). Skyrelay must survive both.
const (
	// djiSEIHeader starts DJI's custom SEI unit: forbidden_zero_bit set,
	// nal_ref_idc 3, type 21 ("NAL type 245" in the capture's notes).
	djiSEIHeader = 0xF5
	// emptyNALUEvery puts a zero-length NAL unit into one frame of this
	// many, halfway between the clip's keyframes.
	emptyNALUEvery = 50
)

// withQuirks returns the access unit of frame n with DJI's quirks added: a
// 0xF5 unit before the first slice and, now and then, an empty unit at the
// end. au itself is not changed.
func withQuirks(au [][]byte, n int64) [][]byte {
	out := make([][]byte, 0, len(au)+2)
	added := false
	for _, nalu := range au {
		if !added && len(nalu) > 0 {
			if t := h264.NALUType(nalu[0] & 0x1f); t == h264.NALUTypeIDR || t == h264.NALUTypeNonIDR {
				out = append(out, djiSEI(n))
				added = true
			}
		}
		out = append(out, nalu)
	}
	if n%emptyNALUEvery == emptyNALUEvery/2 {
		out = append(out, []byte{})
	}
	return out
}

// djiSEI makes a custom unit like the dock's: header byte 0xF5, a tag, the
// frame counter and the RBSP stop bit.
func djiSEI(n int64) []byte {
	b := make([]byte, 0, 1+8+8+1)
	b = append(b, djiSEIHeader)
	b = append(b, "DJI-SIM\x00"...)
	b = binary.BigEndian.AppendUint64(b, uint64(n))
	return append(b, 0x80)
}
