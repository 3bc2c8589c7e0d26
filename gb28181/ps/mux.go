package ps

import (
	"errors"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// Stream ids the muxer writes.
const (
	VideoStreamID uint8 = idVideoFirst
	AudioStreamID uint8 = idAudioFirst
)

// maxPESPayload keeps a PES within PES_packet_length (16 bits) after a
// 13-byte header with PTS and DTS.
const maxPESPayload = 0xFFFF - 3 - 10

// Muxer writes an MPEG-PS as GB/T 28181 (2016 §C.2, 2022 Annex C) asks
// for: every access unit in its own pack; before a key frame the system
// header and the program stream map; access units larger than a PES can
// hold are split over several PES packets, the first with the timestamps.
// The zero value writes nothing useful: set Video and/or Audio.
type Muxer struct {
	Video Codec // CodecH264, CodecH265, or CodecUnknown for none
	Audio Codec // CodecAAC, CodecG711A, CodecG711U, or CodecUnknown for none
	// AAC describes the AAC stream; AppendAudio needs it to write the ADTS
	// header of each frame.
	AAC *mpeg4audio.AudioSpecificConfig
	// MaxPESPayload bounds the payload of one PES (default and maximum
	// 65522 bytes). Smaller values exercise multi-PES units in tests.
	MaxPESPayload int

	tmp     []byte
	version uint8 // PSM version, bumped when the streams change
	wrote   bool
}

// Errors from the muxer.
var (
	ErrNoStream  = errors.New("ps: muxer has no such stream")
	ErrNoAACConf = errors.New("ps: muxer needs the AAC config")
)

// AppendVideo appends a video access unit (NAL units without start codes)
// with its 90 kHz timestamps to dst. key writes the system header and PSM
// first, as a receiver needs them to start decoding.
func (m *Muxer) AppendVideo(dst []byte, pts, dts int64, nalus [][]byte, key bool) ([]byte, error) {
	if !m.Video.IsVideo() {
		return dst, ErrNoStream
	}
	au := m.tmp[:0]
	for _, n := range nalus {
		au = append(au, 0, 0, 0, 1)
		au = append(au, n...)
	}
	m.tmp = au
	dst = m.appendPackHeader(dst, dts)
	if key || !m.wrote {
		dst = m.appendSystemHeader(dst)
		dst = m.appendPSM(dst)
		m.wrote = true
	}
	return m.appendPES(dst, VideoStreamID, pts, dts, au), nil
}

// AppendAudio appends one audio frame (an AAC raw data block, or G.711
// samples) with its 90 kHz PTS to dst.
func (m *Muxer) AppendAudio(dst []byte, pts int64, frame []byte) ([]byte, error) {
	if !m.Audio.IsAudio() {
		return dst, ErrNoStream
	}
	payload := frame
	if m.Audio == CodecAAC {
		if m.AAC == nil {
			return dst, ErrNoAACConf
		}
		b, err := appendADTS(m.tmp[:0], m.AAC, frame)
		if err != nil {
			return dst, err
		}
		m.tmp = b
		payload = b
	}
	dst = m.appendPackHeader(dst, pts)
	if !m.wrote {
		dst = m.appendSystemHeader(dst)
		dst = m.appendPSM(dst)
		m.wrote = true
	}
	return m.appendPES(dst, AudioStreamID, pts, pts, payload), nil
}

// appendADTS writes an ADTS header (ISO/IEC 13818-7 §6.2) and the frame.
func appendADTS(dst []byte, c *mpeg4audio.AudioSpecificConfig, frame []byte) ([]byte, error) {
	sri := -1
	for i, r := range adtsSampleRates {
		if r == c.SampleRate && r != 0 {
			sri = i
		}
	}
	ch := int(c.ChannelConfig)
	if ch == 0 {
		ch = adtsChannelConfig(c.ChannelCount)
	}
	flen := 7 + len(frame)
	if sri < 0 || c.Type < 1 || c.Type > 4 || flen > 0x1FFF {
		return dst, errors.New("ps: AAC frame cannot be put in ADTS")
	}
	prof := byte(c.Type - 1)
	dst = append(dst,
		0xFF, 0xF1, // sync, MPEG-4, layer 0, no CRC
		prof<<6|byte(sri)<<2|byte(ch>>2&1),
		byte(ch&3)<<6|byte(flen>>11),
		byte(flen>>3),
		byte(flen<<5)|0x1F, // buffer fullness 0x7FF
		0xFC,               // one raw data block
	)
	return append(dst, frame...), nil
}

// appendPackHeader writes an MPEG-2 pack header (ISO/IEC 13818-1 §2.5.3.3)
// whose SCR is the unit's DTS less 100 ms, so that the decoder has the
// data before it needs it (never below 0).
func (m *Muxer) appendPackHeader(dst []byte, dts int64) []byte {
	scr := max(dts-9000, 0) & tsMask
	const muxRate = 6106 // 50-byte units, what Hikvision cameras write
	return append(dst,
		0, 0, 1, idPack,
		0x44|byte(scr>>27&0x38)|byte(scr>>28&0x03),
		byte(scr>>20),
		byte(scr>>12&0xF8)|0x04|byte(scr>>13&0x03),
		byte(scr>>5),
		byte(scr<<3&0xF8)|0x04, // SCR_ext = 0
		0x01,
		byte(muxRate>>14), byte(muxRate>>6&0xFF), byte(muxRate&0x3F)<<2|0x03,
		0xF8, // reserved, pack_stuffing_length = 0
	)
}

// appendSystemHeader writes a system header (§2.5.3.5) listing the streams.
func (m *Muxer) appendSystemHeader(dst []byte) []byte {
	n := 0
	if m.Video.IsVideo() {
		n++
	}
	if m.Audio.IsAudio() {
		n++
	}
	const rateBound = 6106
	audio, video := byte(0), byte(0)
	if m.Audio.IsAudio() {
		audio = 1
	}
	if m.Video.IsVideo() {
		video = 1
	}
	dst = append(dst, 0, 0, 1, idSystemHeader, 0, byte(6+3*n),
		0x80|byte(rateBound>>15), byte(rateBound>>7&0xFF), byte(rateBound&0x7F)<<1|1,
		audio<<2,   // audio_bound, fixed_flag 0, CSPS_flag 0
		0xE0|video, // system_audio_lock, system_video_lock, marker, video_bound
		0x7F,       // packet_rate_restriction_flag 0, reserved
	)
	if m.Video.IsVideo() {
		// P-STD buffer: scale 1 (1024 bytes), 1024 units
		dst = append(dst, VideoStreamID, 0xE0|1024>>8, 1024&0xFF)
	}
	if m.Audio.IsAudio() {
		// P-STD buffer: scale 0 (128 bytes), 32 units
		dst = append(dst, AudioStreamID, 0xC0, 32)
	}
	return dst
}

// appendPSM writes a program stream map (§2.5.4) with its CRC_32.
func (m *Muxer) appendPSM(dst []byte) []byte {
	start := len(dst)
	n := 0
	if m.Video.IsVideo() {
		n++
	}
	if m.Audio.IsAudio() {
		n++
	}
	length := 10 + 4*n
	dst = append(dst, 0, 0, 1, idPSM, byte(length>>8), byte(length),
		0x80|0x60|m.version&0x1F, // current_next_indicator, reserved, version
		0xFF,                     // reserved, marker
		0, 0,                     // program_stream_info_length
		0, byte(4*n), // elementary_stream_map_length
	)
	if m.Video.IsVideo() {
		dst = append(dst, m.Video.StreamType(), VideoStreamID, 0, 0)
	}
	if m.Audio.IsAudio() {
		dst = append(dst, m.Audio.StreamType(), AudioStreamID, 0, 0)
	}
	c := crc32MPEG(dst[start:])
	return append(dst, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
}

// appendPES writes payload as one or more PES packets (§2.4.3.6); the
// first carries PTS (and DTS when it differs) and data_alignment_indicator.
func (m *Muxer) appendPES(dst []byte, id uint8, pts, dts int64, payload []byte) []byte {
	limit := maxPESPayload
	if m.MaxPESPayload > 0 && m.MaxPESPayload < limit {
		limit = m.MaxPESPayload
	}
	first := true
	for first || len(payload) > 0 {
		n := min(len(payload), limit)
		hdl := 0
		flags, align := byte(0), byte(0)
		if first {
			align = 0x04
			hdl, flags = 5, 0x80
			if dts != pts {
				hdl, flags = 10, 0xC0
			}
		}
		length := 3 + hdl + n
		dst = append(dst, 0, 0, 1, id, byte(length>>8), byte(length), 0x80|align, flags, byte(hdl))
		switch hdl {
		case 5:
			dst = append(dst, 0, 0, 0, 0, 0)
			putTimestamp(dst[len(dst)-5:], 0x2, pts)
		case 10:
			dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
			putTimestamp(dst[len(dst)-10:], 0x3, pts)
			putTimestamp(dst[len(dst)-5:], 0x1, dts)
		}
		dst = append(dst, payload[:n]...)
		payload = payload[n:]
		first = false
	}
	return dst
}
