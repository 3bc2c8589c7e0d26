package sdp

// Session is one GB SDP body.
type Session struct {
	Version    int         // v=
	Origin     Origin      // o=
	Name       string      // s=: Play, Playback, Download or Talk
	URI        string      // u=: "channelID:type" for Playback and Download
	Connection *Connection // c= at session level
	Start      uint64      // t= start (0 for live)
	Stop       uint64      // t= stop
	Attributes []Attribute // a= lines before the first m=
	Media      []Media
	// SSRC is the y= value as written: 10 decimal digits, the first 0 for
	// live and 1 for history (GB/T 28181-2016 Annex F). Kept as text so
	// leading zeros survive; see SSRCValue.
	SSRC string
	// Format is the f= value (often empty); HasFormat tells whether the
	// line is there. The writer writes it when HasFormat is set.
	Format    string
	HasFormat bool
	// Other lines (i=, b=, k=, ...) as read, written back after t=.
	Other []Line
}

// Origin is the o= line (RFC 4566 §5.2).
type Origin struct {
	Username       string // GB: the sender's device or platform ID
	SessionID      string
	SessionVersion string
	NetType        string // IN
	AddrType       string // IP4
	Address        string
}

// Connection is a c= line (RFC 4566 §5.7).
type Connection struct {
	NetType  string // IN
	AddrType string // IP4 or IP6
	Address  string
}

// Media is an m= section.
type Media struct {
	Type    string   // video or audio
	Port    int      // 0 when rejected
	Proto   string   // RTP/AVP (UDP), TCP/RTP/AVP (RFC 4571 over TCP)
	Formats []string // payload types as written on the m= line
	// Connection is a c= line inside the section, if any.
	Connection *Connection
	RTPMaps    []RTPMap
	// Direction is recvonly, sendonly, sendrecv or inactive ("" if none).
	Direction string
	// Setup is the a=setup value (RFC 4145): active, passive or actpass.
	// GB/T 28181: the offerer's passive means it listens and the device
	// connects.
	Setup string
	// ConnMode is the a=connection value (RFC 4145): new or existing.
	ConnMode string
	// Other a= lines in order (GB: downloadspeed, filesize, streamnumber...).
	Attributes []Attribute
}

// RTPMap is an a=rtpmap line: "96 PS/90000".
type RTPMap struct {
	PayloadType int
	Encoding    string // PS, H264, H265, MPEG4, PCMA, PCMU...
	ClockRate   int
	Params      string // after a second slash (audio channels)
}

// Attribute is an a= line: Key, and Value after the first colon.
type Attribute struct {
	Key, Value string
	HasValue   bool
}

// Line is any other line, kept as read.
type Line struct {
	Key   byte
	Value string
}

// IsTCP tells whether the media runs RTP over TCP (RFC 4571 framing).
func (m *Media) IsTCP() bool {
	switch m.Proto {
	case "TCP/RTP/AVP", "RTP/AVP/TCP":
		return true
	}
	return false
}

// RTPMap returns the rtpmap of a payload type, if the section has one.
func (m *Media) RTPMap(pt int) (RTPMap, bool) {
	for _, r := range m.RTPMaps {
		if r.PayloadType == pt {
			return r, true
		}
	}
	return RTPMap{}, false
}

// Video returns the first video section, or nil.
func (s *Session) Video() *Media {
	for i := range s.Media {
		if s.Media[i].Type == "video" {
			return &s.Media[i]
		}
	}
	return nil
}

// Address is the media address: the first section's c= line, or the
// session's.
func (s *Session) Address() string {
	for _, m := range s.Media {
		if m.Connection != nil {
			return m.Connection.Address
		}
	}
	if s.Connection != nil {
		return s.Connection.Address
	}
	return ""
}
