package ps

// readTimestamp decodes a 33-bit PTS or DTS field (ISO/IEC 13818-1
// §2.4.3.7): 4 bits prefix, 3 bits, marker, 15 bits, marker, 15 bits,
// marker. The marker bits are not checked: devices get them wrong.
func readTimestamp(b []byte) int64 {
	_ = b[4]
	return int64(b[0]>>1&0x07)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 |
		int64(b[3])<<7 | int64(b[4]>>1)
}

// putTimestamp writes a 33-bit PTS or DTS with its 4-bit prefix
// (0010 = PTS only, 0011 = PTS of a pair, 0001 = DTS of a pair).
func putTimestamp(b []byte, prefix byte, ts int64) {
	_ = b[4]
	ts &= 1<<33 - 1
	b[0] = prefix<<4 | byte(ts>>29)&0x0E | 1
	b[1] = byte(ts >> 22)
	b[2] = byte(ts>>14) | 1
	b[3] = byte(ts >> 7)
	b[4] = byte(ts<<1) | 1
}

const (
	tsBits = 33
	tsMask = 1<<tsBits - 1
	tsHalf = 1 << (tsBits - 1)
)

// unwrapper extends 33-bit timestamps into a monotonic-when-the-source-is
// int64 line: each value is placed nearest to the previous one, so a wrap
// after 26.5 hours continues upward instead of jumping back.
type unwrapper struct {
	last int64
	init bool
}

func (u *unwrapper) unwrap(ts int64) int64 {
	ts &= tsMask
	if !u.init {
		u.init = true
		u.last = ts
		return ts
	}
	d := (ts - u.last) & tsMask
	if d >= tsHalf {
		d -= 1 << tsBits
	}
	u.last += d
	return u.last
}
