package gbsim

import (
	"errors"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// accessUnit is one picture: its NAL units without start codes.
type accessUnit struct {
	nalus [][]byte
	key   bool
}

// splitClip cuts an Annex-B H.264 stream of single-slice pictures into
// access units, putting SPS and PPS before every IDR that lacks them so
// that the platform can start at any key frame.
func splitClip(annexB []byte) ([]accessUnit, error) {
	var sps, pps []byte
	var out []accessUnit
	var cur [][]byte
	for _, n := range splitAnnexB(annexB) {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1F) {
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		case h264.NALUTypeAccessUnitDelimiter:
			continue
		}
		cur = append(cur, n)
		switch h264.NALUType(n[0] & 0x1F) {
		case h264.NALUTypeIDR:
			au := accessUnit{nalus: cur, key: true}
			if !hasType(cur, h264.NALUTypeSPS) && sps != nil && pps != nil {
				au.nalus = append([][]byte{sps, pps}, cur...)
			}
			out = append(out, au)
			cur = nil
		case h264.NALUTypeNonIDR:
			out = append(out, accessUnit{nalus: cur})
			cur = nil
		}
	}
	if len(out) == 0 || !out[0].key {
		return nil, errors.New("gbsim: the clip must be Annex-B H.264 starting with an IDR picture")
	}
	return out, nil
}

func hasType(nalus [][]byte, t h264.NALUType) bool {
	for _, n := range nalus {
		if h264.NALUType(n[0]&0x1F) == t {
			return true
		}
	}
	return false
}

// splitAnnexB cuts a byte stream at 3- and 4-byte start codes.
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				if end > start && b[end-1] == 0 {
					end--
				}
				out = append(out, b[start:end])
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}
