package ps

import (
	"bytes"
	"testing"
)

// FuzzMuxRoundTrip: whatever access units a stream hands the muxer (NAL
// units of any size and number, PES packets of any bound), the demuxer
// reads back the same units with the same timestamps. The muxer's input
// is already Annex B safe in real use (emulation prevention is the
// encoder's), so the fuzzer's bytes are made so: no zero byte.
//
// Input: byte 0 picks the codec and the PES bound; then access units
// separated by 0xFD, NAL units inside one by 0xFE.
func FuzzMuxRoundTrip(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 0xFE, 4, 5, 0xFD, 6, 7})
	f.Add([]byte{1, 9, 9, 9, 0xFD, 8, 0xFD, 7, 0xFE, 6})
	f.Add(append([]byte{0x81}, bytes.Repeat([]byte{0x55}, 3000)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		codec := CodecH264
		if data[0]&1 == 1 {
			codec = CodecH265
		}
		m := &Muxer{Video: codec, MaxPESPayload: int(data[0]>>1) * 97} // 0: the default
		var aus [][][]byte
		for i, chunk := range bytes.Split(data[1:], []byte{0xFD}) {
			var au [][]byte
			nalus := bytes.Split(chunk, []byte{0xFE})
			// The demuxer drops a unit of more NAL units than this, by
			// design (a hostile stream's cost bound).
			nalus = nalus[:min(len(nalus), DefaultMaxNALUs)]
			for _, n := range nalus {
				au = append(au, nalu(codec, i == 0, len(au) == 0, n))
			}
			aus = append(aus, au)
		}
		var ps []byte
		for i, au := range aus {
			var err error
			if ps, err = m.AppendVideo(ps, int64(i)*3600, int64(i)*3600, au, i == 0); err != nil {
				t.Fatal(err)
			}
		}
		c, st := demuxAll(ps, int(data[len(data)-1]))
		if len(c.video) != len(aus) {
			t.Fatalf("%d units back, muxed %d (stats %+v)", len(c.video), len(aus), st)
		}
		for i, got := range c.video {
			if err := equalAU(got.NALUs, aus[i]); err != nil {
				t.Fatalf("unit %d: %v", i, err)
			}
			if got.PTS != int64(i)*3600 || got.DTS != got.PTS {
				t.Fatalf("unit %d: PTS %d DTS %d", i, got.PTS, got.DTS)
			}
		}
	})
}

// nalu makes a slice NAL unit of the codec (an IDR slice when key) whose
// body is b with every zero byte raised to one. Only the first slice of a
// picture says so (H.264 first_mb_in_slice 0, H.265
// first_slice_segment_in_pic_flag): the demuxer starts a new unit there.
func nalu(c Codec, key, first bool, b []byte) []byte {
	var out []byte
	if c == CodecH264 {
		out = []byte{0x41, 0x40} // first_mb_in_slice 1
		if key {
			out[0] = 0x65
		}
		if first {
			out[1] = 0x88 // first_mb_in_slice 0
		}
	} else {
		out = []byte{0x02, 0x01, 0x50}
		if key {
			out[0] = 0x26
		}
		if first {
			out[2] |= 0x80
		}
	}
	for _, x := range b {
		out = append(out, max(x, 1))
	}
	return out
}
