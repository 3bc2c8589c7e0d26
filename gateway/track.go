package gateway

import (
	"fmt"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

// Codec names a codec as the API spells it.
type Codec string

// Codecs the stream core understands.
const (
	CodecH264 Codec = "h264"
	CodecH265 Codec = "h265"
	CodecAAC  Codec = "aac"
	CodecOpus Codec = "opus"
	CodecG711 Codec = "g711"
)

// IsVideo tells whether the codec carries pictures.
func (c Codec) IsVideo() bool { return c == CodecH264 || c == CodecH265 }

// Track is one elementary stream of a Stream.
//
// Format holds the codec parameters in gortsplib's types, so that RTSP and
// RTMP outputs can use it as is; for H.264 and H.265 the parameter sets are
// kept current (SafeParams) as they change in band.
type Track struct {
	Index  int
	Codec  Codec
	Format format.Format
	Media  *description.Media
}

// ClockRate is the rate of the track's PTS and RTP timestamps.
func (t *Track) ClockRate() int { return t.Format.ClockRate() }

// TrackFor wraps a gortsplib format into a Track. Formats Skyrelay does not
// carry (data tracks, exotic audio) return an error: ingests skip them and go
// on with the rest, which is what DJI's extra data track needs.
func TrackFor(f format.Format) (*Track, error) {
	var c Codec
	mt := description.MediaTypeAudio
	switch ff := f.(type) {
	case *format.H264:
		c, mt = CodecH264, description.MediaTypeVideo
	case *format.H265:
		c, mt = CodecH265, description.MediaTypeVideo
	case *format.MPEG4Audio:
		c = CodecAAC
	case *format.Opus:
		c = CodecOpus
	case *format.G711:
		c = CodecG711
	default:
		return nil, fmt.Errorf("unsupported codec %q", ff.Codec())
	}
	return &Track{Codec: c, Format: f, Media: &description.Media{Type: mt, Formats: []format.Format{f}}}, nil
}

// compatible tells whether a reconnecting publisher can continue a stream
// that had tracks a: same codecs in the same order.
func compatible(a, b []*Track) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Codec != b[i].Codec || a[i].ClockRate() != b[i].ClockRate() {
			return false
		}
	}
	return true
}
