package sim

import (
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// clipH264 is a 10 s, 25 fps, 640x360 H.264 Main-profile clip without
// B-frames in Annex-B form; clip/README.md gives the command that made it.
//
//go:embed clip/clip.h264
var clipH264 []byte

// ClipFPS is the frame rate of the embedded clip.
const ClipFPS = 25

// clip is an H.264 elementary stream split into access units.
type clip struct {
	sps, pps []byte
	aus      [][][]byte // access units, each a list of NAL units (no start codes)
	frameDur time.Duration
}

// duration is the play time of one pass through the clip.
func (c *clip) duration() time.Duration { return time.Duration(len(c.aus)) * c.frameDur }

// loadClip parses an Annex-B H.264 stream whose frames are single-slice
// (as x264 writes them) into access units.
func loadClip(annexB []byte, fps int) (*clip, error) {
	nalus := splitAnnexB(annexB)
	c := &clip{frameDur: time.Second / time.Duration(fps)}
	var cur [][]byte
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			if c.sps == nil {
				c.sps = n
			}
		case h264.NALUTypePPS:
			if c.pps == nil {
				c.pps = n
			}
		case h264.NALUTypeAccessUnitDelimiter:
			continue
		}
		cur = append(cur, n)
		if t := h264.NALUType(n[0] & 0x1f); t == h264.NALUTypeIDR || t == h264.NALUTypeNonIDR {
			c.aus = append(c.aus, cur)
			cur = nil
		}
	}
	if c.sps == nil || c.pps == nil {
		return nil, errors.New("clip has no SPS/PPS")
	}
	if len(c.aus) == 0 || !isIDR(c.aus[0]) {
		return nil, fmt.Errorf("clip must start with an IDR frame (%d access units)", len(c.aus))
	}
	// Every keyframe carries its parameter sets, as DJI devices send them, so
	// a reader that joins (or a push that resumes) at any keyframe can decode.
	for i, au := range c.aus {
		if isIDR(au) && !hasParams(au) {
			c.aus[i] = append([][]byte{c.sps, c.pps}, au...)
		}
	}
	return c, nil
}

// splitAnnexB cuts a byte stream at 3- and 4-byte start codes.
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	i := 0
	for i+2 < len(b) {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				for end > start && b[end-1] == 0 { // trailing zero of a 4-byte start code
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

func isIDR(au [][]byte) bool {
	for _, n := range au {
		if len(n) > 0 && h264.NALUType(n[0]&0x1f) == h264.NALUTypeIDR {
			return true
		}
	}
	return false
}

func hasParams(au [][]byte) bool {
	for _, n := range au {
		if len(n) > 0 && h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS {
			return true
		}
	}
	return false
}
