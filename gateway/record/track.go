package record

import (
	"encoding/binary"
	"fmt"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/g711"
	h264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	h265 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/skyrelay/skyrelay/gateway"
)

// sample is one sample on its way to a part, with its decode time in the
// track's clock (absolute, in the stream's time base).
type sample struct {
	dts int64
	s   *mp4Sample
}

// recTrack turns a stream track's units into MP4 samples and keeps its
// timing state. Video units without a picture (DJI sends SEI alone) are
// held and merged into the next picture: a sample without a picture
// freezes browsers.
type recTrack struct {
	src       *gateway.Track
	timeScale uint32
	video     bool
	aac       bool
	lpcm      bool
	mulaw     bool
	channels  int

	h264x *h264.DTSExtractor
	h265x *h265.DTSExtractor
	hold  [][]byte // NAL units waiting for a picture

	// timing: one sample is held back until the next gives its duration.
	held    *sample
	lastDTS int64
	hasLast bool
	nominal int64 // the last positive step, used when none is known

	// the current part
	part     []*mp4Sample
	partBase int64
	seen     bool // produced a sample in the current segment
}

func newRecTrack(t *gateway.Track) (*recTrack, error) {
	rt := &recTrack{src: t, timeScale: uint32(t.ClockRate()), video: t.Codec.IsVideo()}
	switch f := t.Format.(type) {
	case *format.H264:
		rt.nominal = int64(rt.timeScale / 30)
	case *format.H265:
		rt.nominal = int64(rt.timeScale / 30)
	case *format.MPEG4Audio:
		rt.aac, rt.nominal = true, 1024
	case *format.Opus:
		rt.nominal = 960
	case *format.G711:
		rt.lpcm, rt.mulaw, rt.channels = true, f.MULaw, max(f.ChannelCount, 1)
		rt.nominal = int64(rt.timeScale / 50)
	default:
		return nil, fmt.Errorf("codec %s cannot be recorded", t.Codec)
	}
	if rt.timeScale == 0 {
		return nil, fmt.Errorf("track %d has no clock rate", t.Index)
	}
	return rt, nil
}

// initTrack describes the track for a segment's moov, with the codec
// parameters current now.
func (rt *recTrack) initTrack(id int) (*fmp4.InitTrack, error) {
	it := &fmp4.InitTrack{ID: id, TimeScale: rt.timeScale}
	switch f := rt.src.Format.(type) {
	case *format.H264:
		sps, pps := f.SafeParams()
		if sps == nil || pps == nil {
			return nil, fmt.Errorf("h264 without SPS/PPS")
		}
		it.Codec = &codecs.H264{SPS: sps, PPS: pps}
	case *format.H265:
		vps, sps, pps := f.SafeParams()
		if vps == nil || sps == nil || pps == nil {
			return nil, fmt.Errorf("h265 without VPS/SPS/PPS")
		}
		it.Codec = &codecs.H265{VPS: vps, SPS: sps, PPS: pps}
	case *format.MPEG4Audio:
		if f.Config == nil {
			return nil, fmt.Errorf("aac without AudioSpecificConfig")
		}
		it.Codec = &codecs.MPEG4Audio{Config: *f.Config}
	case *format.Opus:
		it.Codec = &codecs.Opus{ChannelCount: max(f.ChannelCount, 1)}
	case *format.G711:
		// No MP4 sample entry carries G.711: it is stored as 16-bit PCM.
		it.Codec = &codecs.LPCM{LittleEndian: false, BitDepth: 16, SampleRate: f.SampleRate, ChannelCount: rt.channels}
	}
	return it, nil
}

// samples converts one unit. Video gets its DTS from the stream's
// reordering (B-frames) or equals its PTS.
func (rt *recTrack) samples(u *gateway.Unit, bframes bool, out []sample) ([]sample, error) {
	switch {
	case rt.video:
		return rt.videoSample(u, bframes, out)
	case rt.aac:
		for i, au := range u.Payload {
			out = append(out, sample{dts: u.PTS + int64(i)*1024, s: rawSample(au)})
		}
	case rt.lpcm:
		for _, p := range u.Payload {
			var pcm []byte
			if rt.mulaw {
				var m g711.Mulaw
				m.Unmarshal(p)
				pcm = m
			} else {
				var a g711.Alaw
				a.Unmarshal(p)
				pcm = a
			}
			rt.nominal = max(int64(len(p)/rt.channels), 1)
			out = append(out, sample{dts: u.PTS, s: rawSample(pcm)})
		}
	default: // Opus: one packet per unit
		for _, p := range u.Payload {
			if d := opus.PacketDuration2(p); d > 0 {
				rt.nominal = d
			}
			out = append(out, sample{dts: u.PTS, s: rawSample(p)})
		}
	}
	return out, nil
}

func (rt *recTrack) videoSample(u *gateway.Unit, bframes bool, out []sample) ([]sample, error) {
	au := u.Payload
	if !hasPicture(au, rt.src.Codec) {
		if len(rt.hold) < 64 {
			rt.hold = append(rt.hold, au...)
		}
		return out, nil
	}
	if len(rt.hold) > 0 {
		au = append(append(make([][]byte, 0, len(rt.hold)+len(au)), rt.hold...), au...)
		rt.hold = rt.hold[:0]
	}
	dts := u.PTS
	if bframes {
		var err error
		if rt.src.Codec == gateway.CodecH264 {
			if rt.h264x == nil {
				rt.h264x = h264.NewDTSExtractor()
			}
			dts, err = rt.h264x.Extract(au, u.PTS)
		} else {
			if rt.h265x == nil {
				rt.h265x = h265.NewDTSExtractor()
			}
			dts, err = rt.h265x.Extract(au, u.PTS)
		}
		if err != nil {
			// Unknown reordering: a fresh extractor at the next keyframe.
			rt.h264x, rt.h265x = nil, nil
			dts = u.PTS
		}
	}
	return append(out, sample{dts: dts, s: avccSample(au, int32(u.PTS-dts), !u.Key)}), nil
}

// avccSample lays out an access unit as AVCC (a 4-byte length before each
// NAL unit; the same for H.265) without copying the NAL units.
func avccSample(au [][]byte, cto int32, nonSync bool) *mp4Sample {
	prefix := make([]byte, 4*len(au))
	s := &mp4Sample{cto: cto, nonSync: nonSync, bufs: make([][]byte, 0, 2*len(au))}
	for i, n := range au {
		binary.BigEndian.PutUint32(prefix[4*i:], uint32(len(n)))
		s.bufs = append(s.bufs, prefix[4*i:4*i+4], n)
		s.size += uint32(4 + len(n))
	}
	return s
}

func rawSample(b []byte) *mp4Sample {
	return &mp4Sample{size: uint32(len(b)), bufs: [][]byte{b}}
}

// hasPicture tells whether an access unit holds a coded slice.
func hasPicture(au [][]byte, c gateway.Codec) bool {
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		if c == gateway.CodecH264 {
			if t := n[0] & 0x1f; t >= 1 && t <= 5 {
				return true
			}
		} else if t := (n[0] >> 1) & 0x3f; t <= 31 {
			return true
		}
	}
	return false
}

// resetTiming forgets the timing of the last run.
func (rt *recTrack) resetTiming() {
	rt.held, rt.hasLast, rt.part, rt.seen = nil, false, nil, false
	rt.hold = rt.hold[:0]
	rt.h264x, rt.h265x = nil, nil
}
