package ps

import "bytes"

var startCode3 = []byte{0, 0, 1}

// sniffVideo decides between H.264 and H.265 from the NAL unit headers in an
// Annex-B buffer, for streams that come without a program stream map
// (ffmpeg's -f vob). It returns CodecUnknown while nothing is decisive.
//
// H.264 NAL header (ISO/IEC 14496-10 §7.3.1): F(1) NRI(2) Type(5).
// H.265 NAL header (ISO/IEC 23008-2 §7.3.1.2): F(1) Type(6) LayerId(6) Tid(3).
// A byte pair is taken as H.265 when LayerId is 0 and Tid is 1 (what every
// camera sends), and as H.264 for slices, SPS, PPS and AUD headers that are
// not also a plausible H.265 header. Parameter sets decide it first.
func sniffVideo(b []byte) Codec {
	for n := 0; n < 64; n++ {
		i := bytes.Index(b, startCode3)
		if i < 0 || i+4 >= len(b) {
			return CodecUnknown
		}
		b = b[i+3:]
		h0, h1 := b[0], b[1]
		if h0&0x80 != 0 {
			continue
		}
		h265 := h0&1 == 0 && h1 == 0x01
		t264 := h0 & 0x1F
		h264 := t264 == 1 || t264 == 5 || t264 == 7 || t264 == 8 || t264 == 9
		if h264 && t264 == 9 && h1&0x1F != 0x10 {
			// AUD: primary_pic_type(3) then rbsp stop bit 1 and zeros.
			h264 = false
		}
		switch {
		case h264 && !h265:
			return CodecH264
		case h265 && !h264:
			t := h0 >> 1 & 0x3F
			if t <= 21 || (t >= 32 && t <= 40) {
				return CodecH265
			}
		}
	}
	return CodecUnknown
}

// isADTS tells whether b starts with an ADTS header: syncword 0xFFF, layer
// 00 (ISO/IEC 13818-7 §6.2). MPEG-1/2 audio has the same sync but a
// non-zero layer, so it is not mistaken for AAC.
func isADTS(b []byte) bool {
	return len(b) >= 7 && b[0] == 0xFF && b[1]&0xF6 == 0xF0
}

// auStart tells whether the NAL unit whose header starts at h begins a new
// access unit: H.264 §7.4.1.2.3, H.265 §7.4.2.4.4. Slices begin one when
// they are the first of their picture (first_mb_in_slice == 0, or
// first_slice_segment_in_pic_flag == 1).
func auStart(c Codec, h []byte) bool {
	switch c {
	case CodecH264:
		if len(h) < 1 {
			return false
		}
		switch h[0] & 0x1F {
		case 6, 7, 8, 9, 14, 15:
			return true
		case 1, 5:
			return len(h) >= 2 && h[1]&0x80 != 0
		}
	case CodecH265:
		if len(h) < 2 {
			return false
		}
		t := h[0] >> 1 & 0x3F
		switch {
		case t >= 32 && t <= 35, t == 39, t >= 41 && t <= 44, t >= 48 && t <= 55:
			return true
		case t <= 31:
			return len(h) >= 3 && h[2]&0x80 != 0
		}
	}
	return false
}
