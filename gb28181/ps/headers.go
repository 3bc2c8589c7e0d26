package ps

// Parsers for the fixed parts of PS headers. Each takes b starting at the
// 0x000001 start code and returns the header length, or need > 0 when b is
// too short to tell (need is then the number of bytes wanted in total).

// maxHeader bounds how many bytes the demuxer ever holds back to parse one
// header: 6 + the largest PSM it parses in one piece. Everything longer is
// skipped or streamed.
const (
	maxPSM    = 1018 // ISO/IEC 13818-1 §2.5.4.2: program_stream_map_length ≤ 0x3FA
	maxHeader = 6 + maxPSM
)

// packHeaderLen returns the length of a pack header (§2.5.3.3 for MPEG-2,
// ISO/IEC 11172-1 §2.4.3.2 for MPEG-1), or 0 with ok=false when the bits
// after the start code are neither.
func packHeaderLen(b []byte) (n, need int, ok bool) {
	if len(b) < 5 {
		return 0, 5, true
	}
	switch {
	case b[4]>>6 == 1: // '01': MPEG-2
		if len(b) < 14 {
			return 0, 14, true
		}
		n = 14 + int(b[13]&0x07) // pack_stuffing_length
	case b[4]>>4 == 2: // '0010': MPEG-1
		n = 12
	default:
		return 0, 0, false
	}
	if len(b) < n {
		return 0, n, true
	}
	return n, 0, true
}

// pesHeader is what the demuxer keeps of a PES header (§2.4.3.6).
type pesHeader struct {
	hdrLen    int // bytes from the start code to the payload
	payload   int // payload bytes, or -1 when PES_packet_length is 0
	hasPTS    bool
	hasDTS    bool
	pts, dts  int64
	scrambled bool
}

// parsePESHeader parses the header of an audio or video PES. ok is false
// when the header contradicts its own length.
func parsePESHeader(b []byte) (h pesHeader, need int, ok bool) {
	if len(b) < 7 {
		return h, 7, true
	}
	length := be16(b[4:6])
	if b[6]&0xC0 == 0x80 {
		// MPEG-2 PES: '10' scrambling(2) ... then flags, header_data_length.
		if len(b) < 9 {
			return h, 9, true
		}
		hdl := int(b[8])
		if len(b) < 9+hdl {
			return h, 9 + hdl, true
		}
		if length != 0 && 3+hdl > length {
			return h, 0, false
		}
		h.hdrLen = 9 + hdl
		h.scrambled = b[6]&0x30 != 0
		switch flags := b[7] >> 6; {
		case flags == 2 && hdl >= 5:
			h.hasPTS, h.pts = true, readTimestamp(b[9:14])
		case flags == 3 && hdl >= 10:
			h.hasPTS, h.pts = true, readTimestamp(b[9:14])
			h.hasDTS, h.dts = true, readTimestamp(b[14:19])
		}
	} else {
		// MPEG-1 PES (ISO/IEC 11172-1 §2.4.3.3): up to 16 stuffing bytes
		// 0xFF, an optional STD buffer field '01', then '0010' PTS,
		// '0011' PTS+DTS or 0x0F.
		i := 6
		for n := 0; ; n++ {
			if i >= len(b) {
				return h, i + 1, true
			}
			if b[i] != 0xFF || n >= 16 {
				break
			}
			i++
		}
		if b[i]>>6 == 1 {
			i += 2
			if i >= len(b) {
				return h, i + 1, true
			}
		}
		switch b[i] >> 4 {
		case 2:
			if len(b) < i+5 {
				return h, i + 5, true
			}
			h.hasPTS, h.pts = true, readTimestamp(b[i:i+5])
			i += 5
		case 3:
			if len(b) < i+10 {
				return h, i + 10, true
			}
			h.hasPTS, h.pts = true, readTimestamp(b[i:i+5])
			h.hasDTS, h.dts = true, readTimestamp(b[i+5:i+10])
			i += 10
		default:
			if b[i] != 0x0F {
				return h, 0, false
			}
			i++
		}
		if length != 0 && i-6 > length {
			return h, 0, false
		}
		h.hdrLen = i
	}
	h.payload = -1
	if length != 0 {
		h.payload = length - (h.hdrLen - 6)
	}
	return h, 0, true
}

// psmEntry is one elementary_stream_map entry.
type psmEntry struct {
	streamType uint8
	streamID   uint8
}

// parsePSM reads the elementary stream map of a program stream map
// (§2.5.4.1) whose body (after the 6-byte start code and length) is b,
// skipping program and elementary stream descriptors. The CRC is not
// checked: devices get it wrong. At most cap(out) entries are returned.
func parsePSM(b []byte, out []psmEntry) []psmEntry {
	out = out[:0]
	if len(b) < 4 {
		return out
	}
	infoLen := be16(b[2:4])
	i := 4 + infoLen
	if i+2 > len(b) {
		return out
	}
	mapLen := be16(b[i : i+2])
	i += 2
	end := min(i+mapLen, len(b))
	for i+4 <= end && len(out) < cap(out) {
		out = append(out, psmEntry{streamType: b[i], streamID: b[i+1]})
		i += 4 + be16(b[i+2:i+4])
	}
	return out
}
