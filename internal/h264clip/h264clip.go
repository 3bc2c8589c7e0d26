// Package h264clip reads the raw H.264 clips that the simulators and test
// harnesses send: an Annex-B byte stream (ITU-T H.264 Annex B) of
// single-slice pictures, as x264 writes it.
package h264clip

import (
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// Split cuts an Annex-B byte stream at its 3- and 4-byte start codes. The
// zero byte a 4-byte start code leaves on the unit before it is dropped,
// and so are empty units.
func Split(b []byte) [][]byte {
	var out [][]byte
	add := func(n []byte) {
		for len(n) > 0 && n[len(n)-1] == 0 {
			n = n[:len(n)-1]
		}
		if len(n) > 0 {
			out = append(out, n)
		}
	}
	start := -1
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				add(b[start:i])
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 && start < len(b) {
		add(b[start:])
	}
	return out
}

// Clip is a clip cut into access units, each a list of NAL units without
// start codes. Every IDR picture carries SPS and PPS, as DJI devices send
// them, so that a reader that joins (or a push that resumes) at any
// keyframe can decode.
type Clip struct {
	SPS, PPS []byte
	AUs      [][][]byte
}

// Parse reads a clip of single-slice pictures that starts with an IDR
// picture. Access unit delimiters are left out.
func Parse(annexB []byte) (*Clip, error) {
	c := &Clip{}
	var cur [][]byte
	for _, n := range Split(annexB) {
		switch typ := h264.NALUType(n[0] & 0x1f); typ {
		case h264.NALUTypeAccessUnitDelimiter:
			continue
		case h264.NALUTypeSPS:
			if c.SPS == nil {
				c.SPS = n
			}
		case h264.NALUTypePPS:
			if c.PPS == nil {
				c.PPS = n
			}
		}
		cur = append(cur, n)
		if t := h264.NALUType(n[0] & 0x1f); t == h264.NALUTypeIDR || t == h264.NALUTypeNonIDR {
			c.AUs = append(c.AUs, cur)
			cur = nil
		}
	}
	if c.SPS == nil || c.PPS == nil {
		return nil, errors.New("the clip has no SPS/PPS")
	}
	if len(c.AUs) == 0 || !IsIDR(c.AUs[0]) {
		return nil, fmt.Errorf("the clip must start with an IDR picture (%d access units)", len(c.AUs))
	}
	for i, au := range c.AUs {
		if IsIDR(au) && !HasParams(au) {
			c.AUs[i] = append([][]byte{c.SPS, c.PPS}, au...)
		}
	}
	return c, nil
}

// IsIDR tells whether an access unit is an IDR picture.
func IsIDR(au [][]byte) bool { return has(au, h264.NALUTypeIDR) }

// HasParams tells whether an access unit carries an SPS.
func HasParams(au [][]byte) bool { return has(au, h264.NALUTypeSPS) }

func has(au [][]byte, t h264.NALUType) bool {
	for _, n := range au {
		if len(n) > 0 && h264.NALUType(n[0]&0x1f) == t {
			return true
		}
	}
	return false
}
