package webrtc

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	pion "github.com/pion/webrtc/v4"

	"github.com/skyrelay/skyrelay/gateway"
)

// sendTrack is one track a WHEP peer sends. src is nil for a placeholder
// that is answered but never written (see planWHEP).
type sendTrack struct {
	src *gateway.Track
	codecReg
}

// whepPlan is what one WHEP peer sends and what it leaves out.
type whepPlan struct {
	video, audio *sendTrack
	placeholder  []codecReg // answered codecs without a track
	notes        []string   // tracks left out and why: one log line each
}

// codecs lists every codec the peer's MediaEngine must register.
func (p *whepPlan) codecs() []codecReg {
	var out []codecReg
	for _, t := range []*sendTrack{p.video, p.audio} {
		if t != nil {
			out = append(out, t.codecReg)
		}
	}
	return append(out, p.placeholder...)
}

var videoFeedback = []pion.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}

// planWHEP matches a stream's tracks against a browser's offer. It sends
// the first video track and the first audio track a browser can decode
// (Opus, or G.711 at 8 kHz mono); AAC never goes over WebRTC.
func planWHEP(o *whepOffer, tracks []*gateway.Track, path string) (*whepPlan, error) {
	hls := "/" + path + "/index.m3u8"
	p := &whepPlan{}
	var vt, at *gateway.Track
	for _, t := range tracks {
		switch t.Codec {
		case gateway.CodecH264, gateway.CodecH265:
			if vt == nil {
				vt = t
			}
		case gateway.CodecOpus:
			if at == nil {
				at = t
			}
		case gateway.CodecG711:
			g := t.Format.(*format.G711)
			if g.SampleRate != 8000 || g.ChannelCount > 1 {
				p.notes = append(p.notes, fmt.Sprintf("audio g711 at %d Hz with %d channels left out: browsers take G.711 at 8 kHz mono only; use LL-HLS at %s", g.SampleRate, g.ChannelCount, hls))
			} else if at == nil {
				at = t
			}
		case gateway.CodecAAC:
			p.notes = append(p.notes, "audio aac left out: WebRTC cannot carry AAC; it reaches viewers through LL-HLS at "+hls)
		}
	}

	if vt != nil {
		if o.Video == nil {
			if at == nil || o.Audio == nil {
				return nil, refuse(http.StatusNotAcceptable, "codec_not_supported",
					"the offer has no video section that can receive; offer a recvonly video transceiver")
			}
			p.notes = append(p.notes, "video left out: the offer has no video section")
		} else {
			c, err := pickWHEPVideo(o.Video, vt, hls)
			if err != nil {
				return nil, err
			}
			p.video = &sendTrack{src: vt, codecReg: c}
		}
	} else if o.Video != nil && len(o.Video.Codecs) > 0 {
		// An audio-only stream still answers the video section with a
		// codec: Chrome and Firefox mute the audio otherwise (mediamtx's
		// finding). Nothing is ever sent on it.
		c := o.Video.Codecs[0]
		if h := o.Video.find("H264", 90000); len(h) > 0 {
			c = h[0]
		}
		p.placeholder = append(p.placeholder, videoReg(c))
	}

	if o.Audio != nil {
		if at != nil {
			if c, ok := pickWHEPAudio(o.Audio, at); ok {
				p.audio = &sendTrack{src: at, codecReg: c}
			} else {
				p.notes = append(p.notes, fmt.Sprintf("audio %s left out: the client does not offer it; use LL-HLS at %s", at.Codec, hls))
			}
		}
		if p.audio == nil {
			// The reverse workaround: video alone is not displayed by
			// Chrome and Firefox when the offered audio section gets no
			// track, so a silent PCMU track is answered.
			if pcmu := o.Audio.find("PCMU", 8000); len(pcmu) > 0 {
				p.audio = &sendTrack{codecReg: audioReg(pcmu[0], "audio/PCMU", 8000, 0)}
			}
		}
	}
	if p.video == nil && (p.audio == nil || p.audio.src == nil) {
		return nil, refuse(http.StatusNotAcceptable, "codec_not_supported",
			"nothing in this stream can be played by this client over WebRTC; use LL-HLS at %s", hls)
	}
	return p, nil
}

func videoReg(c whepCodec) codecReg {
	return codecReg{kind: pion.RTPCodecTypeVideo, params: pion.RTPCodecParameters{
		RTPCodecCapability: pion.RTPCodecCapability{
			MimeType: "video/" + c.Name, ClockRate: 90000, SDPFmtpLine: c.Fmtp, RTCPFeedback: videoFeedback,
		},
		PayloadType: pion.PayloadType(c.PT),
	}}
}

func audioReg(c whepCodec, mime string, clock uint32, channels uint16) codecReg {
	return codecReg{kind: pion.RTPCodecTypeAudio, params: pion.RTPCodecParameters{
		RTPCodecCapability: pion.RTPCodecCapability{MimeType: mime, ClockRate: clock, Channels: channels, SDPFmtpLine: c.Fmtp},
		PayloadType:        pion.PayloadType(c.PT),
	}}
}

// pickWHEPVideo chooses the offered payload type for the stream's video codec.
func pickWHEPVideo(m *whepMedia, t *gateway.Track, hls string) (codecReg, error) {
	switch f := t.Format.(type) {
	case *format.H264:
		sps, _ := f.SafeParams()
		c, ok := pickH264(m.find("H264", 90000), sps)
		if !ok {
			return codecReg{}, refuse(http.StatusNotAcceptable, "codec_not_supported",
				"codec not supported by client: the stream is H.264 and the offer has no H.264 with packetization-mode=1; use LL-HLS at %s", hls)
		}
		c.Fmtp = h264Fmtp(c)
		return videoReg(c), nil
	case *format.H265:
		_, sps, _ := f.SafeParams()
		c, ok := pickH265(m.find("H265", 90000), sps)
		if !ok {
			return codecReg{}, refuse(http.StatusNotAcceptable, "codec_not_supported",
				"codec not supported by client: the stream is H.265, which this browser does not offer over WebRTC (Chrome needs a hardware decoder); use LL-HLS at %s", hls)
		}
		return videoReg(c), nil
	}
	return codecReg{}, refuse(http.StatusNotAcceptable, "codec_not_supported", "codec %s cannot be sent over WebRTC; use LL-HLS at %s", t.Codec, hls)
}

// pickH264 prefers the offered H.264 entry whose profile matches the
// stream's SPS (browsers decode any profile, but an exact profile keeps
// hardware decoders and strict clients happy), then constrained baseline,
// then any entry with packetization-mode=1 (the core sends FU-A and STAP-A,
// RFC 6184 §6.3, which mode 0 forbids).
func pickH264(cands []whepCodec, sps []byte) (whepCodec, bool) {
	var best whepCodec
	bestScore := 0
	for _, c := range cands {
		if c.param("packetization-mode") != "1" {
			continue
		}
		score := 1
		plid := strings.ToLower(c.param("profile-level-id"))
		if len(plid) == 6 {
			switch {
			case len(sps) >= 4 && plid[:4] == fmt.Sprintf("%02x%02x", sps[1], sps[2]):
				score = 4
			case len(sps) >= 4 && plid[:2] == fmt.Sprintf("%02x", sps[1]):
				score = 3
			case plid[:4] == "42e0":
				score = 2
			}
		}
		if score > bestScore {
			best, bestScore = c, score
		}
	}
	return best, bestScore > 0
}

// h264Fmtp keeps the offered fmtp line and makes sure
// level-asymmetry-allowed is set: the stream's level is the publisher's,
// not the one the browser named (RFC 6184 §8.2.2).
func h264Fmtp(c whepCodec) string {
	if c.param("level-asymmetry-allowed") != "" {
		return c.Fmtp
	}
	return "level-asymmetry-allowed=1;" + c.Fmtp
}

// pickH265 prefers the offered H.265 entry with the stream's profile
// (general_profile_idc, the low 5 bits of the SPS's fourth byte).
func pickH265(cands []whepCodec, sps []byte) (whepCodec, bool) {
	if len(cands) == 0 {
		return whepCodec{}, false
	}
	if len(sps) >= 4 {
		want := fmt.Sprint(sps[3] & 0x1f)
		for _, c := range cands {
			if c.param("profile-id") == want || (c.param("profile-id") == "" && want == "1") {
				return c, true
			}
		}
	}
	return cands[0], true
}

// pickWHEPAudio finds the offered payload type for an Opus or G.711 track.
func pickWHEPAudio(m *whepMedia, t *gateway.Track) (codecReg, bool) {
	switch f := t.Format.(type) {
	case *format.Opus:
		if c := m.find("opus", 48000); len(c) > 0 {
			if f.ChannelCount == 2 && c[0].param("sprop-stereo") == "" {
				c[0].Fmtp = strings.TrimPrefix(c[0].Fmtp+";stereo=1;sprop-stereo=1", ";")
			}
			return audioReg(c[0], "audio/opus", 48000, 2), true
		}
	case *format.G711:
		name, mime := "PCMA", "audio/PCMA"
		if f.MULaw {
			name, mime = "PCMU", "audio/PCMU"
		}
		if c := m.find(name, 8000); len(c) > 0 {
			return audioReg(c[0], mime, 8000, 0), true
		}
	}
	return codecReg{}, false
}
