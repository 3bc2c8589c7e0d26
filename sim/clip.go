package sim

import (
	_ "embed"
	"time"

	"github.com/skyrelay/skyrelay/internal/h264clip"
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
	c, err := h264clip.Parse(annexB)
	if err != nil {
		return nil, err
	}
	return &clip{sps: c.SPS, pps: c.PPS, aus: c.AUs, frameDur: time.Second / time.Duration(fps)}, nil
}
