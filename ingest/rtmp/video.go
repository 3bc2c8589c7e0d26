package rtmp

import (
	"time"

	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/skyrelay/skyrelay/gateway"
)

// onVideo handles a video tag: legacy FLV (H.264, codec id 7) or Enhanced
// RTMP (FourCC avc1 or hvc1; av01 and vp09 are not carried).
func (p *publisher) onVideo(msg message.Message) {
	switch m := msg.(type) {
	case *message.Video: // gortmplib parses codec id 7 only
		switch m.Type {
		case message.VideoTypeConfig:
			params, lengthSize, ok := parseAVCConfig(m.Payload)
			if !ok {
				p.badTag(&p.video, "AVC sequence header")
				return
			}
			p.videoConfig(gateway.CodecH264, params, lengthSize)
		case message.VideoTypeAU:
			p.videoFrame(gateway.CodecH264, m.DTS, ctsSigned(m.PTSDelta), m.Payload)
		}

	case *message.VideoExSequenceStart:
		switch m.FourCC {
		case message.FourCCAVC:
			p.videoConfig(gateway.CodecH264, avcParams(m), int(m.AVCHeader.LengthSizeMinusOne)+1)
		case message.FourCCHEVC:
			p.videoConfig(gateway.CodecH265, hevcParams(m), int(m.HEVCHeader.LengthSizeMinusOne)+1)
		default:
			p.unsupported(&p.video, fourCCName(m.FourCC))
		}

	case *message.VideoExCodedFrames:
		if c, ok := videoCodec(m.FourCC); ok {
			p.videoFrame(c, m.DTS, ctsSigned(m.PTSDelta), m.Payload)
		} else {
			p.unsupported(&p.video, fourCCName(m.FourCC))
		}

	case *message.VideoExFramesX:
		if c, ok := videoCodec(m.FourCC); ok {
			p.videoFrame(c, m.DTS, 0, m.Payload)
		} else {
			p.unsupported(&p.video, fourCCName(m.FourCC))
		}

	case *message.VideoExMultitrack:
		// One video track is carried: the first track id seen.
		if p.video.multitrack < 0 {
			p.video.multitrack = int(m.TrackID)
		}
		if int(m.TrackID) == p.video.multitrack {
			p.onVideo(m.Wrapped)
		}
	}
}

func videoCodec(c message.FourCC) (gateway.Codec, bool) {
	switch c {
	case message.FourCCAVC:
		return gateway.CodecH264, true
	case message.FourCCHEVC:
		return gateway.CodecH265, true
	}
	return "", false
}

// videoConfig takes a sequence header. The first defines the track (unless
// a frame did already); a later one, or one after the stream started,
// carries new parameter sets, which go in band so that the stream core
// tracks them like any other.
func (p *publisher) videoConfig(codec gateway.Codec, params [][]byte, lengthSize int) {
	s := &p.video
	if s.unsupported != "" {
		return
	}
	if s.format == nil {
		s.format, s.codec = newVideoFormat(codec), codec
	}
	if s.codec != codec {
		p.codecChanged(s, codec)
		return
	}
	s.lengthSize = lengthSize
	params = validParams(codec, params, func() { p.badTag(s, "parameter set") })
	if len(params) == 0 {
		return
	}
	if p.pub == nil && setParams(s.format, params) {
		return
	}
	p.queue(frame{kind: kindVideo, pts: s.tl.last, dts: s.tl.last, payload: params, params: true})
}

// videoFrame takes one coded video frame. A frame before any sequence
// header defines the track without parameter sets: the stream core picks
// them up in band.
func (p *publisher) videoFrame(codec gateway.Codec, dts, cts time.Duration, payload []byte) {
	s := &p.video
	if s.unsupported != "" {
		return
	}
	if s.format == nil {
		s.format, s.codec, s.lengthSize = newVideoFormat(codec), codec, 4
	}
	if s.codec != codec {
		p.codecChanged(s, codec)
		return
	}
	nalus, bad := splitNALUs(payload, s.lengthSize)
	if bad {
		p.badTag(s, "NAL unit length")
	}
	if len(nalus) == 0 {
		return
	}
	d := s.tl.rebase(dts)
	p.queue(frame{kind: kindVideo, dts: d, pts: d + cts, payload: nalus})
}

// badTag counts a tag, or a part of one, that could not be parsed.
func (p *publisher) badTag(s *slot, what string) {
	p.c.s.Hub.Stats().Skipped.Add(1)
	s.warnOnce(p, "bad:"+what, "skipping what cannot be parsed", "what", what)
}

func newVideoFormat(codec gateway.Codec) format.Format {
	if codec == gateway.CodecH265 {
		return &format.H265{PayloadTyp: 96}
	}
	return &format.H264{PayloadTyp: 96, PacketizationMode: 1}
}

// setParams gives a format its parameter sets when all are there.
func setParams(f format.Format, params [][]byte) bool {
	var vps, sps, pps []byte
	switch ff := f.(type) {
	case *format.H264:
		for _, n := range params {
			switch h264.NALUType(n[0] & 0x1f) {
			case h264.NALUTypeSPS:
				sps = n
			case h264.NALUTypePPS:
				pps = n
			}
		}
		if sps != nil && pps != nil {
			ff.SafeSetParams(sps, pps)
			return true
		}
	case *format.H265:
		for _, n := range params {
			switch h265.NALUType((n[0] >> 1) & 0x3f) {
			case h265.NALUType_VPS_NUT:
				vps = n
			case h265.NALUType_SPS_NUT:
				sps = n
			case h265.NALUType_PPS_NUT:
				pps = n
			}
		}
		if vps != nil && sps != nil && pps != nil {
			ff.SafeSetParams(vps, sps, pps)
			return true
		}
	}
	return false
}

// validParams keeps the parameter sets a sequence header may carry (SPS
// and PPS for H.264; VPS, SPS and PPS for H.265) and drops anything else,
// and an SPS that does not parse: outputs read the picture size from it,
// and gortmplib's writer panics on one it cannot parse.
func validParams(codec gateway.Codec, params [][]byte, bad func()) [][]byte {
	out := params[:0:0]
	for _, n := range params {
		ok := false
		switch {
		case len(n) == 0:
		case codec == gateway.CodecH264:
			switch h264.NALUType(n[0] & 0x1f) {
			case h264.NALUTypeSPS:
				var sps h264.SPS
				ok = sps.Unmarshal(n) == nil
			case h264.NALUTypePPS:
				ok = true
			}
		case len(n) > 1:
			switch h265.NALUType((n[0] >> 1) & 0x3f) {
			case h265.NALUType_SPS_NUT:
				var sps h265.SPS
				ok = sps.Unmarshal(n) == nil
			case h265.NALUType_VPS_NUT, h265.NALUType_PPS_NUT:
				ok = true
			}
		}
		if !ok {
			bad()
			continue
		}
		out = append(out, n)
	}
	return out
}

// parseAVCConfig reads an AVCDecoderConfigurationRecord (ISO 14496-15
// §5.3.3.1): the first SPS and PPS, and the size of NAL unit lengths.
// gortmplib's h264conf refuses records with more than one SPS; encoders
// that send several exist.
func parseAVCConfig(b []byte) (params [][]byte, lengthSize int, ok bool) {
	if len(b) < 7 {
		return nil, 0, false
	}
	lengthSize = int(b[4]&0x03) + 1
	pos := 5
	var sps, pps []byte
	for round := 0; round < 2; round++ {
		if pos >= len(b) {
			return nil, 0, false
		}
		n := int(b[pos])
		if round == 0 {
			n &= 0x1f
		}
		pos++
		for i := 0; i < n; i++ {
			if len(b)-pos < 2 {
				return nil, 0, false
			}
			l := int(b[pos])<<8 | int(b[pos+1])
			pos += 2
			if len(b)-pos < l {
				return nil, 0, false
			}
			if i == 0 && l > 0 {
				if round == 0 {
					sps = b[pos : pos+l]
				} else {
					pps = b[pos : pos+l]
				}
			}
			pos += l
		}
	}
	if sps == nil || pps == nil {
		return nil, 0, false
	}
	return [][]byte{sps, pps}, lengthSize, true
}

// avcParams takes the first SPS and PPS of an Enhanced RTMP avcC.
func avcParams(m *message.VideoExSequenceStart) [][]byte {
	c := m.AVCHeader
	if len(c.SequenceParameterSets) == 0 || len(c.PictureParameterSets) == 0 {
		return nil
	}
	return [][]byte{c.SequenceParameterSets[0].NALUnit, c.PictureParameterSets[0].NALUnit}
}

// hevcParams takes the first VPS, SPS and PPS of an hvcC.
func hevcParams(m *message.VideoExSequenceStart) [][]byte {
	find := func(t h265.NALUType) []byte {
		for _, a := range m.HEVCHeader.NaluArrays {
			for _, n := range a.Nalus {
				if len(n.NALUnit) > 1 && h265.NALUType((n.NALUnit[0]>>1)&0x3f) == t {
					return n.NALUnit
				}
			}
		}
		return nil
	}
	vps, sps, pps := find(h265.NALUType_VPS_NUT), find(h265.NALUType_SPS_NUT), find(h265.NALUType_PPS_NUT)
	if vps == nil || sps == nil || pps == nil {
		return nil
	}
	return [][]byte{vps, sps, pps}
}
