package gateway

import (
	h264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	h265 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// naluKind is what the stream core does with a NAL unit.
type naluKind int

const (
	naluKeep   naluKind = iota // pass to readers
	naluDrop                   // harmless but useless to readers (AUD, filler)
	naluBad                    // a decoder would choke on it: skip and count
	naluParams                 // parameter set: tracked, re-sent with keyframes
	naluKey                    // starts a GOP
)

// classifyH264 sorts an H.264 NAL unit (ITU-T H.264 §7.4.1).
// DJI docks send custom SEI with the forbidden_zero_bit set (0xF5, see
// docs/field-quirks.md): browsers' decoders reject it, so it counts as bad.
func classifyH264(n []byte) naluKind {
	if len(n) == 0 || n[0]&0x80 != 0 {
		return naluBad
	}
	switch h264.NALUType(n[0] & 0x1f) {
	case h264.NALUTypeSPS, h264.NALUTypePPS:
		return naluParams
	case h264.NALUTypeIDR:
		return naluKey
	case h264.NALUTypeAccessUnitDelimiter, h264.NALUTypeFillerData,
		h264.NALUTypeEndOfSequence, h264.NALUTypeEndOfStream:
		return naluDrop
	case 0, 24, 25, 26, 27, 28, 29, 30, 31: // unspecified or RTP aggregation types: never inside an AU
		return naluBad
	}
	return naluKeep
}

// classifyH265 sorts an H.265 NAL unit (ITU-T H.265 §7.4.2.2).
func classifyH265(n []byte) naluKind {
	if len(n) < 2 || n[0]&0x80 != 0 {
		return naluBad
	}
	t := h265.NALUType((n[0] >> 1) & 0x3f)
	switch {
	case t == h265.NALUType_VPS_NUT || t == h265.NALUType_SPS_NUT || t == h265.NALUType_PPS_NUT:
		return naluParams
	case t >= h265.NALUType_BLA_W_LP && t <= h265.NALUType_CRA_NUT:
		return naluKey
	case t == h265.NALUType_AUD_NUT || t == h265.NALUType_EOS_NUT ||
		t == h265.NALUType_EOB_NUT || t == h265.NALUType_FD_NUT:
		return naluDrop
	case t >= 48: // RTP aggregation/fragmentation and unspecified types
		return naluBad
	}
	return naluKeep
}
