package ps

import "bytes"

// splitAnnexB splits an Annex-B buffer (ISO/IEC 14496-10 Annex B) into NAL
// units without start codes, appending to out. Bytes before the first start
// code are dropped; trailing zero bytes (the leading zero of a 4-byte start
// code, trailing_zero_8bits) are removed; empty units are counted, not
// returned. ok is false when the unit has more than max NAL units.
func splitAnnexB(buf []byte, out [][]byte, max int) (nalus [][]byte, empty int, ok bool) {
	out = out[:0]
	i := bytes.Index(buf, startCode3)
	if i < 0 {
		return out, 0, true
	}
	start := i + 3
	for {
		j := bytes.Index(buf[start:], startCode3)
		end := len(buf)
		if j >= 0 {
			end = start + j
		}
		nal := buf[start:end]
		for len(nal) > 0 && nal[len(nal)-1] == 0 {
			nal = nal[:len(nal)-1]
		}
		if len(nal) == 0 {
			empty++
		} else {
			if len(out) >= max {
				return out, empty, false
			}
			out = append(out, nal[:len(nal):len(nal)])
		}
		if j < 0 {
			return out, empty, true
		}
		start = end + 3
	}
}

// isKey tells whether an access unit holds a random access picture: an IDR
// slice in H.264 (type 5), an IRAP picture in H.265 (types 16..23).
func isKey(c Codec, nalus [][]byte) bool {
	for _, n := range nalus {
		switch c {
		case CodecH264:
			if n[0]&0x1F == 5 {
				return true
			}
		case CodecH265:
			if t := n[0] >> 1 & 0x3F; t >= 16 && t <= 23 {
				return true
			}
		}
	}
	return false
}
