package ps

import "github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

// VideoAU is one video access unit. The demuxer reuses it and the memory
// behind NALUs: both are valid only until the callback returns. Use
// [VideoAU.Clone] to keep one.
type VideoAU struct {
	StreamID uint8 // PES stream_id, 0xE0..0xEF
	Codec    Codec // CodecH264 or CodecH265
	PTS      int64 // 90 kHz, unwrapped past the 33-bit wrap
	DTS      int64 // 90 kHz; equal to PTS when the PES had none
	NALUs    [][]byte
	// Key is set when the unit holds an IDR picture (H.264) or an IRAP
	// picture (H.265).
	Key bool
	// Discontinuity is set on the first unit after a loss or a Reset:
	// units before it may be missing, so a decoder should wait for Key.
	Discontinuity bool
}

// Clone copies the unit into memory of its own, in one allocation for all
// NAL units.
func (au *VideoAU) Clone() *VideoAU {
	c := *au
	n := 0
	for _, u := range au.NALUs {
		n += len(u)
	}
	mem := make([]byte, 0, n)
	c.NALUs = make([][]byte, len(au.NALUs))
	for i, u := range au.NALUs {
		mem = append(mem, u...)
		c.NALUs[i] = mem[len(mem)-len(u) : len(mem) : len(mem)]
	}
	return &c
}

// AudioFrame is one audio frame: an AAC raw data block (without its ADTS
// header) or a run of G.711 samples. The demuxer reuses it and the memory
// behind Data: both are valid only until the callback returns. Use
// [AudioFrame.Clone] to keep one.
type AudioFrame struct {
	StreamID   uint8 // PES stream_id, 0xC0..0xDF
	Codec      Codec // CodecAAC, CodecG711A or CodecG711U
	PTS        int64 // 90 kHz, unwrapped past the 33-bit wrap
	Data       []byte
	SampleRate int // Hz
	Channels   int // 0 when an AAC program config element defines them
	Samples    int // samples per channel in Data
	// AACType is the MPEG-4 audio object type from the ADTS header
	// (profile + 1; 2 = AAC-LC). Zero for G.711.
	AACType       mpeg4audio.ObjectType
	Discontinuity bool
}

// Clone copies the frame into memory of its own.
func (f *AudioFrame) Clone() *AudioFrame {
	c := *f
	c.Data = append([]byte(nil), f.Data...)
	return &c
}

// AACConfig is the AudioSpecificConfig of an AAC frame, for building a
// track description; nil for other codecs.
func (f *AudioFrame) AACConfig() *mpeg4audio.AudioSpecificConfig {
	if f.Codec != CodecAAC {
		return nil
	}
	return &mpeg4audio.AudioSpecificConfig{
		Type:          f.AACType,
		SampleRate:    f.SampleRate,
		ChannelConfig: uint8(adtsChannelConfig(f.Channels)),
		ChannelCount:  f.Channels,
	}
}

func adtsChannelConfig(channels int) int {
	if channels == 8 {
		return 7
	}
	if channels >= 1 && channels <= 6 {
		return channels
	}
	return 0
}
