package gateway

import (
	"fmt"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph265"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtplpcm"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpsimpleaudio"
	"github.com/pion/rtp"
)

// packetiser turns a track's units into RTP packets. Each has its own
// sequence numbers; all of a track's packetisers share the stream's RTP
// timestamp base, so packets made for a GOP replay and live ones line up.
type packetiser struct {
	base   uint32
	encode func(u *Unit) ([]*rtp.Packet, error)
}

// packets packetises u with payloads of at most RTPPayloadMax bytes.
func (p *packetiser) packets(u *Unit) ([]*rtp.Packet, error) {
	pkts, err := p.encode(u)
	if err != nil {
		return nil, err
	}
	ts := p.base + uint32(u.PTS)
	for _, pk := range pkts {
		pk.Timestamp += ts
	}
	return pkts, nil
}

// newPacketiser makes the encoder for t's codec.
func newPacketiser(t *Track, rtpBase uint32) (*packetiser, error) {
	p := &packetiser{base: rtpBase}
	pt := t.Format.PayloadType()
	switch f := t.Format.(type) {
	case *format.H264:
		e := &rtph264.Encoder{PayloadType: pt, PayloadMaxSize: RTPPayloadMax, PacketizationMode: 1}
		if err := e.Init(); err != nil {
			return nil, err
		}
		p.encode = func(u *Unit) ([]*rtp.Packet, error) { return e.Encode(u.Payload) }
	case *format.H265:
		e := &rtph265.Encoder{PayloadType: pt, PayloadMaxSize: RTPPayloadMax}
		if err := e.Init(); err != nil {
			return nil, err
		}
		p.encode = func(u *Unit) ([]*rtp.Packet, error) { return e.Encode(u.Payload) }
	case *format.MPEG4Audio:
		e := &rtpmpeg4audio.Encoder{PayloadType: pt, SizeLength: f.SizeLength, IndexLength: f.IndexLength,
			IndexDeltaLength: f.IndexDeltaLength, PayloadMaxSize: RTPPayloadMax}
		if e.SizeLength == 0 { // formats built by RTMP ingest leave these to the RFC 3640 defaults
			e.SizeLength, e.IndexLength, e.IndexDeltaLength = 13, 3, 3
			f.SizeLength, f.IndexLength, f.IndexDeltaLength = 13, 3, 3
		}
		if err := e.Init(); err != nil {
			return nil, err
		}
		p.encode = func(u *Unit) ([]*rtp.Packet, error) { return e.Encode(u.Payload) }
	case *format.Opus:
		e := &rtpsimpleaudio.Encoder{PayloadType: pt, PayloadMaxSize: RTPPayloadMax}
		if err := e.Init(); err != nil {
			return nil, err
		}
		p.encode = func(u *Unit) ([]*rtp.Packet, error) {
			pkt, err := e.Encode(u.Payload[0])
			return []*rtp.Packet{pkt}, err
		}
	case *format.G711:
		e := &rtplpcm.Encoder{PayloadType: pt, BitDepth: 8, ChannelCount: max(f.ChannelCount, 1), PayloadMaxSize: RTPPayloadMax}
		if err := e.Init(); err != nil {
			return nil, err
		}
		p.encode = func(u *Unit) ([]*rtp.Packet, error) { return e.Encode(u.Payload[0]) }
	default:
		return nil, fmt.Errorf("unsupported codec %q", f.Codec())
	}
	return p, nil
}
