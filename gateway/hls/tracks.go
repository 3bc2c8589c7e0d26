package hls

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/skyrelay/skyrelay/gateway"
)

// track is one stream track as the muxer carries it.
type track struct {
	hls *gohlslib.Track
	// write hands one unit to the muxer at pts, in the format's clock
	// rate, which the gohlslib track shares.
	write func(m *gohlslib.Muxer, ntp time.Time, pts int64, u *gateway.Unit) error
	clock int64
	video bool
	last  int64 // the newest pts written (audio), for the gap closer
	wrote bool
	// params returns the parameter sets of the init segment (video only):
	// a keyframe carrying others means the codec changed. gohlslib fills
	// empty ones from the first keyframe, in the writer's goroutine.
	params func() [][]byte
}

// errNoTrack says that a stream has nothing LL-HLS can carry.
var errNoTrack = errors.New("the stream has no track LL-HLS can carry (h264, h265, aac, opus)")

// hlsTracks maps the stream's tracks onto muxer tracks: the first video
// track and every AAC and Opus track. skipped names what was left out and
// why, for one log line.
func hlsTracks(tracks []*gateway.Track) (map[*gateway.Track]*track, []string, error) {
	out := map[*gateway.Track]*track{}
	var skipped []string
	hasVideo := false
	for _, t := range tracks {
		var tr *track
		var why string
		switch f := t.Format.(type) {
		case *format.H264:
			if hasVideo {
				why = "second video track"
				break
			}
			sps, pps := f.SafeParams()
			c := &codecs.H264{SPS: bytes.Clone(sps), PPS: bytes.Clone(pps)}
			tr = &track{
				hls:    &gohlslib.Track{Codec: c, ClockRate: f.ClockRate()},
				params: func() [][]byte { return [][]byte{c.SPS, c.PPS} },
			}
			tr.write = func(m *gohlslib.Muxer, ntp time.Time, pts int64, u *gateway.Unit) error {
				return m.WriteH264(tr.hls, ntp, pts, u.Payload)
			}
			hasVideo = true
		case *format.H265:
			if hasVideo {
				why = "second video track"
				break
			}
			vps, sps, pps := f.SafeParams()
			c := &codecs.H265{VPS: bytes.Clone(vps), SPS: bytes.Clone(sps), PPS: bytes.Clone(pps)}
			tr = &track{
				hls:    &gohlslib.Track{Codec: c, ClockRate: f.ClockRate()},
				params: func() [][]byte { return [][]byte{c.VPS, c.SPS, c.PPS} },
			}
			tr.write = func(m *gohlslib.Muxer, ntp time.Time, pts int64, u *gateway.Unit) error {
				return m.WriteH265(tr.hls, ntp, pts, u.Payload)
			}
			hasVideo = true
		case *format.MPEG4Audio:
			if f.Config == nil {
				why = "aac without AudioSpecificConfig"
				break
			}
			tr = &track{hls: &gohlslib.Track{Codec: &codecs.MPEG4Audio{Config: *f.Config}, ClockRate: f.ClockRate()}}
			tr.write = func(m *gohlslib.Muxer, ntp time.Time, pts int64, u *gateway.Unit) error {
				return m.WriteMPEG4Audio(tr.hls, ntp, pts, u.Payload)
			}
		case *format.Opus:
			tr = &track{hls: &gohlslib.Track{Codec: &codecs.Opus{ChannelCount: max(f.ChannelCount, 1)}, ClockRate: f.ClockRate()}}
			tr.write = func(m *gohlslib.Muxer, ntp time.Time, pts int64, u *gateway.Unit) error {
				return m.WriteOpus(tr.hls, ntp, pts, u.Payload)
			}
		case *format.G711:
			// fMP4 HLS has no G.711 sample entry that players accept, and
			// gohlslib has no G.711 codec: the video stays playable.
			why = "g711 cannot be carried in fMP4 LL-HLS"
		default:
			why = fmt.Sprintf("codec %s not supported by LL-HLS", t.Codec)
		}
		if tr == nil {
			skipped = append(skipped, fmt.Sprintf("track %d: %s", t.Index, why))
			continue
		}
		tr.clock, tr.video = int64(t.ClockRate()), t.Codec.IsVideo()
		out[t] = tr
	}
	if len(out) == 0 {
		return nil, skipped, errNoTrack
	}
	return out, skipped, nil
}

// ordered lists the muxer tracks video first: gohlslib makes the first
// video track the leading one, and players pick the first rendition.
func ordered(tracks []*gateway.Track, m map[*gateway.Track]*track) []*gohlslib.Track {
	var out []*gohlslib.Track
	for _, video := range []bool{true, false} {
		for _, t := range tracks {
			if tr := m[t]; tr != nil && t.Codec.IsVideo() == video {
				out = append(out, tr.hls)
			}
		}
	}
	return out
}

// duration converts ticks of a clock without overflowing on long streams.
func duration(ticks, clock int64) time.Duration {
	return time.Duration(ticks/clock)*time.Second + time.Duration(ticks%clock)*time.Second/time.Duration(clock)
}

// ticks converts back, to the nearest tick: a duration made by duration
// comes back as the ticks it was made of.
func ticks(d time.Duration, clock int64) int64 {
	frac := int64(d%time.Second) * clock
	half := int64(time.Second) / 2
	if frac < 0 {
		half = -half
	}
	return int64(d/time.Second)*clock + (frac+half)/int64(time.Second)
}

// paramsChanged tells whether a keyframe carries parameter sets other than
// those the init segment was made from. Keyframes start with the stream's
// current parameter sets (the core prepends them).
func paramsChanged(tr *track, u *gateway.Unit) bool {
	if !u.Key || tr.params == nil {
		return false
	}
	params := tr.params()
	if len(u.Payload) < len(params) {
		return false
	}
	for i, p := range params {
		if len(p) == 0 {
			return false // the init segment takes them from this keyframe
		}
		if !bytes.Equal(p, u.Payload[i]) {
			return true
		}
	}
	return false
}
