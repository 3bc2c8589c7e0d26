package rtmp

import "bytes"

// maxNALUs bounds the NAL units taken from one tag: a hostile tag of
// zero-length units would otherwise cost a slice header for every 4 bytes.
const maxNALUs = 256

// splitNALUs cuts a video tag's payload into NAL units (ISO 14496-15
// §5.3.4.2.1: each unit is prefixed with its length in lengthSize bytes).
//
// Unlike mediacommon's AVCC.Unmarshal it keeps going: zero-length units
// (DJI M30, SRS#3750) are kept as empty slices for the stream core to drop
// and count; a length running past the end of the tag (the "invalid NALU"
// of DJI M350 and Mavic 3E, mediamtx#2375) keeps the units before it and
// reports the rest as bad. A payload that turns out to be Annex-B (start
// codes instead of lengths, which some encoders put into FLV) is split on
// its start codes instead.
func splitNALUs(buf []byte, lengthSize int) (nalus [][]byte, bad bool) {
	if lengthSize < 1 || lengthSize > 4 {
		lengthSize = 4
	}
	for pos := 0; pos < len(buf); {
		if len(nalus) == maxNALUs {
			return nalus, true
		}
		if len(buf)-pos < lengthSize {
			return fallbackAnnexB(buf, nalus, true)
		}
		n := 0
		for _, b := range buf[pos : pos+lengthSize] {
			n = n<<8 | int(b)
		}
		pos += lengthSize
		if n > len(buf)-pos {
			return fallbackAnnexB(buf, nalus, true)
		}
		nalus = append(nalus, buf[pos:pos+n])
		pos += n
	}
	return nalus, false
}

// fallbackAnnexB re-reads buf as Annex-B when it starts with a start code,
// and otherwise returns what the length-prefixed reading found.
func fallbackAnnexB(buf []byte, nalus [][]byte, bad bool) ([][]byte, bool) {
	if !bytes.HasPrefix(buf, []byte{0, 0, 1}) && !bytes.HasPrefix(buf, []byte{0, 0, 0, 1}) {
		return nalus, bad
	}
	var out [][]byte
	for _, n := range bytes.Split(buf, []byte{0, 0, 1}) {
		// A four-byte start code leaves a trailing zero on the unit
		// before it; trailing zeros are never part of a NAL unit.
		n = bytes.TrimRight(n, "\x00")
		if len(n) == 0 {
			continue
		}
		if len(out) == maxNALUs {
			return out, true
		}
		out = append(out, n)
	}
	return out, false
}
