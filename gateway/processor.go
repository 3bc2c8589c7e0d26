package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph265"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmpeg4audio"
	h264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	h265 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"
)

// maxParamSetSize bounds a parameter set we are willing to keep.
const maxParamSetSize = 4096

// ProcessStats counts what codec processing threw away or repaired. The
// counters are shared by every publisher of a stream.
type ProcessStats struct {
	Skipped  atomic.Uint64 // units or NAL units that could not be parsed
	Empty    atomic.Uint64 // zero-length NAL units dropped
	Repaired atomic.Uint64 // timestamps that went backwards, moved forward
	Rebased  atomic.Uint64 // clock jumps of a publisher (timeline.go)
}

// processor turns what an ingest delivers into Units, once per stream.
type processor struct {
	track *Track
	stats *ProcessStats

	// video state
	vps, sps, pps []byte
	keySeen       bool
	bframes       atomic.Bool
	dtsx          *h264.DTSExtractor

	lastPTS int64
	hasLast bool

	// rtp packetises live units, in arrival order (see packetise).
	rtp *packetiser

	// RTP input
	decode func(pkt *rtp.Packet) ([][]byte, error)
}

var errSkip = errors.New("skip")

func newProcessor(t *Track, stats *ProcessStats, rtpBase uint32) (*processor, error) {
	pk, err := newPacketiser(t, rtpBase)
	if err != nil {
		return nil, err
	}
	p := &processor{track: t, stats: stats, rtp: pk}
	switch f := t.Format.(type) {
	case *format.H264:
		p.sps, p.pps = f.SafeParams()
	case *format.H265:
		p.vps, p.sps, p.pps = f.SafeParams()
	}
	return p, nil
}

// setDecoder prepares depacketisation for a publisher that sends RTP.
func (p *processor) setDecoder() error {
	switch f := p.track.Format.(type) {
	case *format.H264:
		d, err := f.CreateDecoder()
		if err != nil {
			return err
		}
		p.decode = d.Decode
		p.dtsx = h264.NewDTSExtractor()
	case *format.H265:
		d, err := f.CreateDecoder()
		if err != nil {
			return err
		}
		p.decode = d.Decode
	case *format.MPEG4Audio:
		d, err := f.CreateDecoder()
		if err != nil {
			return err
		}
		p.decode = d.Decode
	case *format.Opus:
		d, err := f.CreateDecoder()
		if err != nil {
			return err
		}
		p.decode = func(pkt *rtp.Packet) ([][]byte, error) {
			b, err := d.Decode(pkt)
			return [][]byte{b}, err
		}
	case *format.G711:
		d, err := f.CreateDecoder()
		if err != nil {
			return err
		}
		p.decode = func(pkt *rtp.Packet) ([][]byte, error) {
			b, err := d.Decode(pkt)
			return [][]byte{b}, err
		}
	}
	return nil
}

// processRTP depacketises one packet; it returns a unit when an access unit
// is complete, and errSkip otherwise.
func (p *processor) processRTP(pkt *rtp.Packet, pts int64) (*Unit, error) {
	payload, err := p.decode(pkt)
	if err != nil {
		if errors.Is(err, rtph264.ErrMorePacketsNeeded) || errors.Is(err, rtph265.ErrMorePacketsNeeded) ||
			errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) || errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious) ||
			errors.Is(err, rtpmpeg4audio.ErrMorePacketsNeeded) {
			return nil, errSkip
		}
		p.stats.Skipped.Add(1)
		return nil, errSkip
	}
	dts, hasDTS := int64(0), false
	if p.dtsx != nil {
		if d, err := p.dtsx.Extract(payload, pts); err == nil {
			dts, hasDTS = d, true
		}
	}
	return p.process(pts, dts, hasDTS, payload)
}

// process normalises one access unit. hasDTS says whether dts is known; a
// DTS that differs from the PTS reveals B-frames.
func (p *processor) process(pts, dts int64, hasDTS bool, payload [][]byte) (*Unit, error) {
	u := &Unit{PTS: pts}
	switch p.track.Codec {
	case CodecH264, CodecH265:
		if hasDTS && dts != pts {
			p.bframes.Store(true)
		}
		if !p.video(u, payload) {
			return nil, errSkip
		}
	default:
		u.Payload = payload[:0:0]
		for _, a := range payload {
			if len(a) == 0 {
				p.stats.Empty.Add(1)
				continue
			}
			u.Payload = append(u.Payload, a)
		}
		if len(u.Payload) == 0 {
			return nil, errSkip
		}
		if p.track.Codec != CodecAAC && len(u.Payload) > 1 {
			return nil, fmt.Errorf("%s: one frame per unit expected", p.track.Codec)
		}
	}
	// Timestamps from DJI streams sometimes go backwards (go2rtc#1969):
	// nudge them forward instead of letting a muxer stall. Streams with
	// B-frames reorder PTS on purpose and are left alone.
	if p.hasLast && u.PTS <= p.lastPTS && !p.bframes.Load() {
		u.PTS = p.lastPTS + 1
		p.stats.Repaired.Add(1)
	}
	p.lastPTS, p.hasLast = u.PTS, true
	return u, nil
}

// packetise makes u.RTP for live units, once. The encoders number
// packets as they go, so the stream calls it under its lock, in arrival
// order, while some reader needs RTP.
func (p *processor) packetise(u *Unit) {
	if u.packed {
		return
	}
	u.packed = true
	pkts, err := p.rtp.packets(u)
	if err != nil {
		p.stats.Skipped.Add(1)
		return
	}
	u.RTP = pkts
}

// video filters the NAL units of an access unit into u. It reports false
// when nothing a reader could use is left.
func (p *processor) video(u *Unit, au [][]byte) bool {
	classify := classifyH264
	if p.track.Codec == CodecH265 {
		classify = classifyH265
	}
	out := make([][]byte, 0, len(au)+3)
	key := false
	for _, n := range au {
		if len(n) == 0 {
			p.stats.Empty.Add(1)
			continue
		}
		switch classify(n) {
		case naluBad:
			p.stats.Skipped.Add(1)
		case naluDrop:
		case naluParams:
			p.setParam(n)
		case naluKey:
			key = true
			out = append(out, n)
		default:
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return false
	}
	if key {
		if p.sps == nil || p.pps == nil || (p.track.Codec == CodecH265 && p.vps == nil) {
			// A keyframe nobody can decode yet: keep it out of the GOP.
			key = false
		} else {
			params := [][]byte{p.sps, p.pps}
			if p.track.Codec == CodecH265 {
				params = [][]byte{p.vps, p.sps, p.pps}
			}
			out = append(params, out...)
			p.keySeen = true
		}
	}
	if !p.keySeen {
		// Frames before the first decodable keyframe are useless to everyone.
		return false
	}
	u.Key, u.Payload = key, out
	return true
}

// setParam tracks a parameter set seen in band and publishes a change to the
// track's format, so that outputs built later (RTSP SDP, HLS init) use it.
func (p *processor) setParam(n []byte) {
	if len(n) > maxParamSetSize {
		p.stats.Skipped.Add(1)
		return
	}
	switch p.track.Codec {
	case CodecH264:
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			if bytes.Equal(n, p.sps) {
				return
			}
			var s h264.SPS
			if s.Unmarshal(n) != nil {
				p.stats.Skipped.Add(1)
				return
			}
			p.sps = bytes.Clone(n)
		case h264.NALUTypePPS:
			if bytes.Equal(n, p.pps) {
				return
			}
			p.pps = bytes.Clone(n)
		}
		p.track.Format.(*format.H264).SafeSetParams(p.sps, p.pps)
	case CodecH265:
		switch h265.NALUType((n[0] >> 1) & 0x3f) {
		case h265.NALUType_VPS_NUT:
			if bytes.Equal(n, p.vps) {
				return
			}
			p.vps = bytes.Clone(n)
		case h265.NALUType_SPS_NUT:
			if bytes.Equal(n, p.sps) {
				return
			}
			var s h265.SPS
			if s.Unmarshal(n) != nil {
				p.stats.Skipped.Add(1)
				return
			}
			p.sps = bytes.Clone(n)
		case h265.NALUType_PPS_NUT:
			if bytes.Equal(n, p.pps) {
				return
			}
			p.pps = bytes.Clone(n)
		}
		p.track.Format.(*format.H265).SafeSetParams(p.vps, p.sps, p.pps)
	}
}
