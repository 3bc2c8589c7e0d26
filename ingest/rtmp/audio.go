package rtmp

import (
	"time"

	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/skyrelay/skyrelay/gateway"
)

// onAudio handles an audio tag: legacy FLV (AAC, G.711; MP3 and Linear PCM
// are not carried) or Enhanced RTMP (FourCC mp4a or Opus). Audio codec ids
// gortmplib does not know (15 from a DJI Mini 4 Pro) never get here: the
// message layer fails on them and readMessage skips them.
func (p *publisher) onAudio(msg message.Message) {
	s := &p.audio
	switch m := msg.(type) {
	case *message.Audio:
		switch m.Codec {
		case message.CodecMPEG4Audio:
			if m.AACType == message.AudioAACTypeConfig {
				var conf mpeg4audio.AudioSpecificConfig
				if conf.Unmarshal(m.Payload) != nil || conf.SampleRate <= 0 {
					p.badTag(s, "AAC sequence header")
					return
				}
				p.audioTrack(gateway.CodecAAC, aacFormat(&conf))
				return
			}
			p.audioFrame(gateway.CodecAAC, m.DTS, m.Payload)
		case message.CodecPCMA, message.CodecPCMU:
			// G.711 has no sequence header: the first frame says it all
			// (FLV carries it at 8 kHz only).
			channels := 1
			if m.IsStereo {
				channels = 2
			}
			mu := m.Codec == message.CodecPCMU
			pt := uint8(8)
			if mu {
				pt = 0
			}
			p.audioTrack(gateway.CodecG711, &format.G711{PayloadTyp: pt, MULaw: mu, SampleRate: 8000, ChannelCount: channels})
			p.audioFrame(gateway.CodecG711, m.DTS, m.Payload)
		case message.CodecMPEG1Audio:
			p.unsupported(s, "mp3")
		case message.CodecLPCM:
			p.unsupported(s, "lpcm")
		}

	case *message.AudioExSequenceStart:
		switch m.FourCC {
		case message.FourCCOpus:
			p.audioTrack(gateway.CodecOpus, &format.Opus{PayloadTyp: 96, ChannelCount: max(1, int(m.OpusHeader.ChannelCount))})
		case message.FourCCMP4A:
			if m.AACHeader.SampleRate <= 0 {
				p.badTag(s, "AAC sequence header")
				return
			}
			p.audioTrack(gateway.CodecAAC, aacFormat(m.AACHeader))
		default:
			p.unsupported(s, fourCCName(m.FourCC))
		}

	case *message.AudioExCodedFrames:
		switch m.FourCC {
		case message.FourCCOpus:
			p.audioFrame(gateway.CodecOpus, m.DTS, m.Payload)
		case message.FourCCMP4A:
			p.audioFrame(gateway.CodecAAC, m.DTS, m.Payload)
		default:
			p.unsupported(s, fourCCName(m.FourCC))
		}

	case *message.AudioExMultitrack:
		// One audio track is carried: the first track id seen.
		if s.multitrack < 0 {
			s.multitrack = int(m.TrackID)
		}
		if int(m.TrackID) == s.multitrack {
			p.onAudio(m.Wrapped)
		}
	}
}

func aacFormat(conf *mpeg4audio.AudioSpecificConfig) *format.MPEG4Audio {
	return &format.MPEG4Audio{PayloadTyp: 96, Config: conf, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}
}

// audioTrack defines the audio track from its first sequence header (or
// first G.711 frame). Repeated headers are ignored; a header of another
// codec is logged and ignored.
func (p *publisher) audioTrack(codec gateway.Codec, f format.Format) {
	s := &p.audio
	switch {
	case s.unsupported != "":
	case s.format == nil:
		s.format, s.codec = f, codec
	case s.codec != codec:
		p.codecChanged(s, codec)
	}
}

// audioFrame takes one audio frame (an AAC access unit, an Opus packet,
// G.711 samples). Frames before their sequence header cannot be decoded
// and are dropped.
func (p *publisher) audioFrame(codec gateway.Codec, dts time.Duration, payload []byte) {
	s := &p.audio
	if s.format == nil || s.codec != codec || len(payload) == 0 {
		return
	}
	d := s.tl.rebase(dts)
	p.queue(frame{kind: kindAudio, pts: d, dts: d, payload: [][]byte{payload}})
}
