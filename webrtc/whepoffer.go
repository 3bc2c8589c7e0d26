package webrtc

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// whepCodec is one payload type of an offer's media section.
type whepCodec struct {
	PT       uint8
	Name     string // as written, e.g. "H264", "opus"
	Clock    int
	Channels int
	Fmtp     string
}

// param returns one key of the fmtp line ("" when absent).
func (c whepCodec) param(key string) string {
	for _, kv := range strings.Split(c.Fmtp, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if strings.EqualFold(k, key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// whepMedia is one m= section of an offer that can receive media.
type whepMedia struct {
	Kind   string // "video" or "audio"
	Codecs []whepCodec
}

// offer is what a client asked for, read before any PeerConnection exists
// so that a bad offer costs nothing and gets a precise 400.
type whepOffer struct {
	Video *whepMedia // first video section that can receive, if any
	Audio *whepMedia
}

// parseWHEPOffer validates an SDP offer and lists what its first audio and
// video sections accept.
func parseWHEPOffer(raw string) (*whepOffer, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, fmt.Errorf("empty SDP offer")
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		return nil, fmt.Errorf("invalid SDP offer: %v", err)
	}
	if len(sd.MediaDescriptions) == 0 {
		return nil, fmt.Errorf("invalid SDP offer: no media section")
	}
	o := &whepOffer{}
	for _, md := range sd.MediaDescriptions {
		kind := md.MediaName.Media
		if kind != "video" && kind != "audio" {
			continue
		}
		if md.MediaName.Port.Value == 0 || !receives(md) {
			continue
		}
		m := &whepMedia{Kind: kind, Codecs: whepCodecsOf(md)}
		if kind == "video" && o.Video == nil {
			o.Video = m
		} else if kind == "audio" && o.Audio == nil {
			o.Audio = m
		}
	}
	if o.Video == nil && o.Audio == nil {
		return nil, fmt.Errorf("invalid SDP offer: no audio or video section that can receive (a WHEP offer needs recvonly sections)")
	}
	return o, nil
}

// receives tells whether the offerer is willing to receive on md.
func receives(md *sdp.MediaDescription) bool {
	for _, a := range md.Attributes {
		switch a.Key {
		case "sendonly", "inactive":
			return false
		}
	}
	return true
}

func whepCodecsOf(md *sdp.MediaDescription) []whepCodec {
	byPT := map[uint8]*whepCodec{}
	var order []uint8
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 8)
		if err != nil {
			continue
		}
		if _, ok := byPT[uint8(pt)]; !ok {
			byPT[uint8(pt)] = &whepCodec{PT: uint8(pt)}
			order = append(order, uint8(pt))
		}
	}
	for _, a := range md.Attributes {
		ptStr, rest, ok := strings.Cut(a.Value, " ")
		if !ok {
			continue
		}
		pt, err := strconv.ParseUint(ptStr, 10, 8)
		if err != nil {
			continue
		}
		c := byPT[uint8(pt)]
		if c == nil {
			continue
		}
		switch a.Key {
		case "rtpmap":
			parts := strings.Split(strings.TrimSpace(rest), "/")
			c.Name = parts[0]
			if len(parts) > 1 {
				c.Clock, _ = strconv.Atoi(parts[1])
			}
			c.Channels = 1
			if len(parts) > 2 {
				c.Channels, _ = strconv.Atoi(parts[2])
			}
		case "fmtp":
			c.Fmtp = strings.TrimSpace(rest)
		}
	}
	out := make([]whepCodec, 0, len(order))
	for _, pt := range order {
		c := byPT[pt]
		if c.Name == "" {
			// RFC 3551 static payload types may come without rtpmap.
			switch pt {
			case 0:
				c.Name, c.Clock, c.Channels = "PCMU", 8000, 1
			case 8:
				c.Name, c.Clock, c.Channels = "PCMA", 8000, 1
			default:
				continue
			}
		}
		out = append(out, *c)
	}
	return out
}

// find returns the offered codecs with a given name (case-insensitive).
func (m *whepMedia) find(name string, clock int) []whepCodec {
	if m == nil {
		return nil
	}
	var out []whepCodec
	for _, c := range m.Codecs {
		if strings.EqualFold(c.Name, name) && (clock == 0 || c.Clock == clock) {
			out = append(out, c)
		}
	}
	return out
}
