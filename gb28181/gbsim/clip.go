package gbsim

import "github.com/skyrelay/skyrelay/internal/h264clip"

// accessUnit is one picture: its NAL units without start codes.
type accessUnit struct {
	nalus [][]byte
	key   bool
}

// splitClip cuts an Annex-B H.264 stream of single-slice pictures into
// access units, each IDR with SPS and PPS so that the platform can start at
// any key frame.
func splitClip(annexB []byte) ([]accessUnit, error) {
	c, err := h264clip.Parse(annexB)
	if err != nil {
		return nil, err
	}
	out := make([]accessUnit, len(c.AUs))
	for i, au := range c.AUs {
		out[i] = accessUnit{nalus: au, key: h264clip.IsIDR(au)}
	}
	return out, nil
}
