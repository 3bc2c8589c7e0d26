package webrtc

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/sdp/v3"
	pion "github.com/pion/webrtc/v4"

	"github.com/skyrelay/skyrelay/gateway"
)

// whipCodec is one payload type a WHIP publisher offers to send.
type whipCodec struct {
	whepCodec
	Feedback []pion.RTCPFeedback // a=rtcp-fb lines for this payload type (or *)
}

// whipOffer is what a WHIP offer sends: its first sending audio and
// video sections.
type whipOffer struct {
	Video, Audio []whipCodec
	hasVideo     bool
	hasAudio     bool
}

// parseWHIPOffer reads a WHIP offer (RFC 9725 §4.2): media sections the
// publisher sends on (sendonly or sendrecv), their codecs and feedback.
func parseWHIPOffer(raw string) (*whipOffer, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, fmt.Errorf("empty SDP offer")
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		return nil, fmt.Errorf("invalid SDP offer: %v", err)
	}
	o := &whipOffer{}
	for _, md := range sd.MediaDescriptions {
		kind := md.MediaName.Media
		if kind != "video" && kind != "audio" || md.MediaName.Port.Value == 0 || !sends(md) {
			continue
		}
		codecs := whipCodecsOf(md)
		if kind == "video" && !o.hasVideo {
			o.Video, o.hasVideo = codecs, true
		} else if kind == "audio" && !o.hasAudio {
			o.Audio, o.hasAudio = codecs, true
		}
	}
	if !o.hasVideo && !o.hasAudio {
		return nil, fmt.Errorf("invalid SDP offer: no audio or video section that sends (a WHIP offer needs sendonly or sendrecv sections)")
	}
	return o, nil
}

// sends tells whether the offerer sends on md (RFC 8866 §6.7: sendrecv is
// the default).
func sends(md *sdp.MediaDescription) bool {
	for _, a := range md.Attributes {
		switch a.Key {
		case "recvonly", "inactive":
			return false
		}
	}
	return true
}

func whipCodecsOf(md *sdp.MediaDescription) []whipCodec {
	base := whepCodecsOf(md)
	out := make([]whipCodec, len(base))
	for i, c := range base {
		out[i].whepCodec = c
	}
	for _, a := range md.Attributes {
		if a.Key != "rtcp-fb" {
			continue
		}
		f := strings.Fields(a.Value)
		if len(f) < 2 {
			continue
		}
		fb := pion.RTCPFeedback{Type: f[1]}
		if len(f) > 2 {
			fb.Parameter = strings.Join(f[2:], " ")
		}
		for i := range out {
			if f[0] == "*" || f[0] == strconv.Itoa(int(out[i].PT)) {
				out[i].Feedback = append(out[i].Feedback, fb)
			}
		}
	}
	return out
}

// whipPlan is what a WHIP session receives: the answered codecs and the
// tracks they become in the stream core, video first.
type whipPlan struct {
	codecs []codecReg
	tracks []*gateway.Track
	video  *gateway.Track
	audio  *gateway.Track
	notes  []string
}

// planWHIP answers conservatively, because DJI firmware refuses answers it
// does not expect (613010 against one server, docs/field-quirks.md): exactly
// one video codec — the first H.264 entry the publisher offers with
// packetization-mode=1 (its preferred profile), else its first H.264,
// else H.265 — and one audio codec (Opus, else G.711), each with the
// offered payload type and fmtp line, and only the RTCP feedback the
// publisher offered that Skyrelay uses (PLI, FIR). No header extension
// is registered, so none is answered.
func planWHIP(o *whipOffer) (*whipPlan, error) {
	p := &whipPlan{}
	if o.hasVideo {
		c, ok := pickWHIPVideo(o.Video)
		if !ok {
			if !o.hasAudio {
				return nil, refuse(http.StatusNotAcceptable, "codec_not_supported",
					"the offer's video has no H.264 or H.265; offer H.264 (packetization-mode=1)")
			}
			p.notes = append(p.notes, "video left out: the offer has no H.264 or H.265")
		} else {
			t, err := videoTrack(c)
			if err != nil {
				return nil, refuse(http.StatusBadRequest, "invalid_sdp", "%v", err)
			}
			p.video = t
			p.tracks = append(p.tracks, t)
			p.codecs = append(p.codecs, codecReg{kind: pion.RTPCodecTypeVideo, params: pion.RTPCodecParameters{
				RTPCodecCapability: pion.RTPCodecCapability{MimeType: "video/" + c.Name, ClockRate: 90000,
					SDPFmtpLine: c.Fmtp, RTCPFeedback: keepFeedback(c.Feedback)},
				PayloadType: pion.PayloadType(c.PT),
			}})
		}
	}
	if o.hasAudio {
		if c, mime, ok := pickWHIPAudio(o.Audio); ok {
			t := audioTrack(c)
			p.audio = t
			p.tracks = append(p.tracks, t)
			p.codecs = append(p.codecs, codecReg{kind: pion.RTPCodecTypeAudio, params: pion.RTPCodecParameters{
				RTPCodecCapability: pion.RTPCodecCapability{MimeType: mime, ClockRate: uint32(c.Clock),
					Channels: uint16(c.Channels), SDPFmtpLine: c.Fmtp},
				PayloadType: pion.PayloadType(c.PT),
			}})
		} else {
			p.notes = append(p.notes, "audio left out: the offer has no Opus or G.711")
		}
	}
	if len(p.tracks) == 0 {
		return nil, refuse(http.StatusNotAcceptable, "codec_not_supported",
			"nothing in this offer can be received: offer H.264 or H.265 video, Opus or G.711 audio")
	}
	return p, nil
}

func pickWHIPVideo(cs []whipCodec) (whipCodec, bool) {
	var first *whipCodec
	for i, c := range cs {
		if !strings.EqualFold(c.Name, "H264") || c.Clock != 90000 {
			continue
		}
		if c.param("packetization-mode") == "1" {
			return c, true
		}
		if first == nil {
			first = &cs[i]
		}
	}
	if first != nil {
		return *first, true
	}
	for _, c := range cs {
		if strings.EqualFold(c.Name, "H265") && c.Clock == 90000 {
			return c, true
		}
	}
	return whipCodec{}, false
}

func pickWHIPAudio(cs []whipCodec) (whipCodec, string, bool) {
	for _, want := range []struct{ name, mime string }{{"opus", "audio/opus"}, {"PCMU", "audio/PCMU"}, {"PCMA", "audio/PCMA"}} {
		for _, c := range cs {
			if !strings.EqualFold(c.Name, want.name) {
				continue
			}
			if want.name == "opus" && c.Clock == 48000 || want.name != "opus" && c.Clock == 8000 && c.Channels <= 1 {
				if want.name == "opus" {
					c.Channels = 2 // RFC 7587 §7: always opus/48000/2
				} else {
					c.Channels = 0
				}
				return c, want.mime, true
			}
		}
	}
	return whipCodec{}, "", false
}

// keepFeedback keeps the offered feedback Skyrelay acts on: PLI (it asks
// for a keyframe when a publisher starts) and FIR. NACK is left out: the
// core forwards packets in arrival order and has nothing to do with a late
// retransmission; transport-cc and goog-remb need header extensions or
// estimators Skyrelay does not run.
func keepFeedback(fb []pion.RTCPFeedback) []pion.RTCPFeedback {
	var out []pion.RTCPFeedback
	for _, f := range fb {
		if f.Type == "nack" && f.Parameter == "pli" || f.Type == "ccm" && f.Parameter == "fir" {
			out = append(out, f)
		}
	}
	return out
}

func videoTrack(c whipCodec) (*gateway.Track, error) {
	if strings.EqualFold(c.Name, "H265") {
		return gateway.TrackFor(&format.H265{PayloadTyp: c.PT})
	}
	f := &format.H264{PayloadTyp: c.PT, PacketizationMode: 1}
	if c.param("packetization-mode") != "1" {
		f.PacketizationMode = 0
	}
	// RFC 6184 §8.1: sprop-parameter-sets, when a publisher sends them,
	// give the parameter sets before the first keyframe.
	if sp := c.param("sprop-parameter-sets"); sp != "" {
		for _, ps := range strings.Split(sp, ",") {
			b, err := base64.StdEncoding.DecodeString(ps)
			if err != nil || len(b) == 0 {
				continue
			}
			switch b[0] & 0x1f {
			case 7:
				f.SPS = b
			case 8:
				f.PPS = b
			}
		}
	}
	return gateway.TrackFor(f)
}

func audioTrack(c whipCodec) *gateway.Track {
	var f format.Format
	switch strings.ToLower(c.Name) {
	case "opus":
		f = &format.Opus{PayloadTyp: c.PT, ChannelCount: 2}
	default:
		f = &format.G711{PayloadTyp: c.PT, MULaw: strings.EqualFold(c.Name, "PCMU"), SampleRate: 8000, ChannelCount: 1}
	}
	t, _ := gateway.TrackFor(f)
	return t
}
