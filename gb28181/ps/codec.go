package ps

// Codec is an elementary stream's codec as far as this package knows it.
type Codec uint8

// Codecs the demuxer hands out. Streams of any other type are skipped and
// counted in [Stats.DroppedPES].
const (
	CodecUnknown Codec = iota
	CodecH264
	CodecH265
	CodecAAC   // ADTS in the PES payload
	CodecG711A // PCMA, 8 kHz
	CodecG711U // PCMU, 8 kHz
)

// String names the codec.
func (c Codec) String() string {
	switch c {
	case CodecH264:
		return "H264"
	case CodecH265:
		return "H265"
	case CodecAAC:
		return "AAC"
	case CodecG711A:
		return "G711A"
	case CodecG711U:
		return "G711U"
	}
	return "unknown"
}

// IsVideo tells whether the codec carries pictures.
func (c Codec) IsVideo() bool { return c == CodecH264 || c == CodecH265 }

// IsAudio tells whether the codec carries sound.
func (c Codec) IsAudio() bool { return c == CodecAAC || c == CodecG711A || c == CodecG711U }

// Stream types of the program stream map (ISO/IEC 13818-1 Table 2-34, and
// the GB/T 28181 additions for G.711 and friends).
const (
	StreamTypeH264  uint8 = 0x1B
	StreamTypeH265  uint8 = 0x24
	StreamTypeAAC   uint8 = 0x0F // ISO/IEC 13818-7 audio with ADTS transport syntax
	StreamTypeG711A uint8 = 0x90 // GB/T 28181
	StreamTypeG711U uint8 = 0x91 // GB/T 28181
)

// CodecForStreamType maps a PSM stream_type to a codec; types this package
// cannot hand out (MPEG-4 video 0x10, SVAC 0x80, G.722.1 0x92, ...) give
// CodecUnknown.
func CodecForStreamType(st uint8) Codec {
	switch st {
	case StreamTypeH264:
		return CodecH264
	case StreamTypeH265:
		return CodecH265
	case StreamTypeAAC:
		return CodecAAC
	case StreamTypeG711A:
		return CodecG711A
	case StreamTypeG711U:
		return CodecG711U
	}
	return CodecUnknown
}

// StreamType is the PSM stream_type the muxer writes for a codec (0 for
// CodecUnknown).
func (c Codec) StreamType() uint8 {
	switch c {
	case CodecH264:
		return StreamTypeH264
	case CodecH265:
		return StreamTypeH265
	case CodecAAC:
		return StreamTypeAAC
	case CodecG711A:
		return StreamTypeG711A
	case CodecG711U:
		return StreamTypeG711U
	}
	return 0
}
