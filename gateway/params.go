package gateway

import (
	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

// adoptParams takes the parameter sets a reconnecting publisher announced
// (an RTMP sequence header, an SDP sprop) into the stream's track, so the
// next keyframe carries them even when they are not repeated in band.
func adoptParams(dst, src *Track, p *processor) {
	switch s := src.Format.(type) {
	case *format.H264:
		sps, pps := s.SafeParams()
		if sps != nil && pps != nil {
			dst.Format.(*format.H264).SafeSetParams(sps, pps)
			p.sps, p.pps = sps, pps
		}
	case *format.H265:
		vps, sps, pps := s.SafeParams()
		if vps != nil && sps != nil && pps != nil {
			dst.Format.(*format.H265).SafeSetParams(vps, sps, pps)
			p.vps, p.sps, p.pps = vps, sps, pps
		}
	}
}
