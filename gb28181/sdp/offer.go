package sdp

import "strconv"

// Offer describes what a platform asks a device for in an INVITE.
type Offer struct {
	// ID goes into o= (the platform ID; some devices want the channel ID).
	ID string
	// IP and Port are where the platform receives the media.
	IP   string
	Port int
	// TCP asks for RTP over TCP (RFC 4571) with a=setup:passive: the
	// platform listens and the device connects, which works through NAT.
	// ActiveTCP asks instead for a=setup:active: the platform dials.
	TCP, ActiveTCP bool
	SSRC           string // y=, see MakeSSRC
	// Channel, Start and Stop (Unix seconds) make a Playback offer with
	// u=Channel:0 and t=Start Stop; zero Start means live (s=Play).
	Channel     string
	Start, Stop uint64
}

// Session builds the offer's SDP: video PS (96), MPEG-4 (97) and H.264 (98)
// receive-only, as in GB/T 28181-2016 Annex F; H.265 (99) for 2022 devices.
func (o Offer) Session() *Session {
	s := &Session{
		Origin:     Origin{Username: o.ID, SessionID: "0", SessionVersion: "0", NetType: "IN", AddrType: "IP4", Address: o.IP},
		Name:       "Play",
		Connection: &Connection{NetType: "IN", AddrType: "IP4", Address: o.IP},
		SSRC:       o.SSRC,
		HasFormat:  true,
	}
	if o.Start != 0 {
		s.Name, s.URI, s.Start, s.Stop = "Playback", o.Channel+":0", o.Start, o.Stop
	}
	m := Media{
		Type:      "video",
		Port:      o.Port,
		Proto:     "RTP/AVP",
		Formats:   []string{"96", "97", "98", "99"},
		Direction: "recvonly",
		RTPMaps: []RTPMap{
			{PayloadType: 96, Encoding: "PS", ClockRate: 90000},
			{PayloadType: 97, Encoding: "MPEG4", ClockRate: 90000},
			{PayloadType: 98, Encoding: "H264", ClockRate: 90000},
			{PayloadType: 99, Encoding: "H265", ClockRate: 90000},
		},
	}
	if o.TCP || o.ActiveTCP {
		m.Proto, m.Setup, m.ConnMode = "TCP/RTP/AVP", "passive", "new"
		if o.ActiveTCP {
			m.Setup = "active"
		}
	}
	s.Media = []Media{m}
	return s
}

// PayloadTypeFor returns the payload type an answer chose for an
// encoding (e.g. "PS"), or -1.
func (m *Media) PayloadTypeFor(encoding string) int {
	for _, f := range m.Formats {
		pt, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		if r, ok := m.RTPMap(pt); ok && equalFold(r.Encoding, encoding) {
			return pt
		}
		if pt == 96 && encoding == "PS" {
			if _, ok := m.RTPMap(pt); !ok {
				return pt // no rtpmap: GB's default for 96 is PS
			}
		}
	}
	return -1
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}
