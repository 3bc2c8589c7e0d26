package platform

import (
	"fmt"

	"github.com/skyrelay/skyrelay/gb28181/sdp"
)

// offer describes the SDP the platform puts into a live INVITE.
type offer struct {
	serverID string
	host     string // c= and o= address
	port     int
	tcp      bool // TCP/RTP/AVP with a=setup:passive (the device connects)
	ssrc     string
}

// String writes the offer (GB/T 28181-2016 Annex F) through gb28181/sdp,
// offering PS only: the ingest reads PS, and a device that picked raw H.264
// would send what it cannot read.
func (o offer) String() string {
	s := sdp.Offer{ID: o.serverID, IP: o.host, Port: o.port, TCP: o.tcp, SSRC: o.ssrc}.Session()
	m := &s.Media[0]
	m.Formats = []string{"96"}
	m.RTPMaps = []sdp.RTPMap{{PayloadType: 96, Encoding: "PS", ClockRate: 90000}}
	return string(s.Marshal())
}

// answer is what the platform reads of a device's SDP answer.
type answer struct {
	host   string // c= address
	port   int    // m=video port
	tcp    bool
	setup  string // a=setup value: active, passive, actpass
	ssrc   string // y= (may differ from the offer's)
	format string // the first rtpmap of the m= line, e.g. "PS/90000"
}

// parseAnswer reads a device's SDP answer; it needs a video m= line.
func parseAnswer(body []byte) (answer, error) {
	s, err := sdp.Parse(body)
	if err != nil {
		return answer{}, err
	}
	v := s.Video()
	if v == nil {
		return answer{}, fmt.Errorf("SDP answer has no video media")
	}
	a := answer{host: s.Address(), port: v.Port, tcp: v.IsTCP(), setup: v.Setup, ssrc: s.SSRC}
	if len(v.RTPMaps) > 0 {
		r := v.RTPMaps[0]
		a.format = fmt.Sprintf("%s/%d", r.Encoding, r.ClockRate)
	}
	return a, nil
}
