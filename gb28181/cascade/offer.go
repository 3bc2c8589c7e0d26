package cascade

import (
	"net"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/skyrelay/skyrelay/gb28181/gbid"
	"github.com/skyrelay/skyrelay/gb28181/sdp"
)

// reasons are the phrases of the codes readOffer returns.
var reasons = map[int]string{400: "Bad Request", 415: "Unsupported Media Type", 488: "Not Acceptable Here"}

// offer is what an INVITE's SDP asks for.
type offer struct {
	sdp      *sdp.Session
	video    *sdp.Media
	ssrcText string // 10 digits, the offer's y= or one made up
	ssrc     uint32
	media    string // mediaUDP, mediaTCPDial, mediaTCPListen
	dst      string // the upstream's media host:port
}

// readOffer checks an INVITE's SDP (GB/T 28181-2016 Annex F) and returns
// it, or the SIP code to refuse it with: 400 unreadable or a bad y=, 488
// no usable video or not live (Playback, Download), 415 no PS. A missing
// y= gets one from makeSSRC.
func readOffer(body []byte, makeSSRC func() string) (*offer, int) {
	off, err := sdp.Parse(body)
	if err != nil {
		return nil, 400
	}
	v := off.Video()
	if v == nil || v.Port == 0 || off.Address() == "" {
		return nil, 488
	}
	if !offersPS(v) {
		return nil, 415
	}
	if !strings.EqualFold(off.Name, "Play") && off.Name != "" {
		return nil, 488 // Playback and Download: no recordings upstream
	}
	o := &offer{sdp: off, video: v, ssrcText: off.SSRC, media: mediaUDP}
	if o.ssrcText == "" {
		o.ssrcText = makeSSRC()
	}
	if !sdp.ValidSSRC(o.ssrcText) {
		return nil, 400
	}
	n, err := strconv.ParseUint(o.ssrcText, 10, 32)
	if err != nil {
		return nil, 400 // ten digits above 4294967295
	}
	o.ssrc = uint32(n)
	if v.IsTCP() {
		o.media = mediaTCPDial
		if v.Setup == "active" {
			o.media = mediaTCPListen
		}
	}
	o.dst = net.JoinHostPort(off.Address(), strconv.Itoa(v.Port))
	return o, 0
}

// offersPS tells whether the offer takes PS: an rtpmap naming PS, or
// payload type 96 without any rtpmap (as some platforms write it).
func offersPS(v *sdp.Media) bool {
	for _, r := range v.RTPMaps {
		if strings.EqualFold(r.Encoding, "PS") || strings.EqualFold(r.Encoding, "MP2P") {
			return true
		}
	}
	if len(v.RTPMaps) == 0 {
		for _, f := range v.Formats {
			if f == "96" {
				return true
			}
		}
	}
	return false
}

// psPayloadType is the payload type the offer gave PS (96 by default).
func psPayloadType(v *sdp.Media) int {
	for _, r := range v.RTPMaps {
		if strings.EqualFold(r.Encoding, "PS") || strings.EqualFold(r.Encoding, "MP2P") {
			return r.PayloadType
		}
	}
	return 96
}

// channelOf is the channel an INVITE asks for: the Request-URI user, else
// the first id of the Subject header (sender:stream,receiver:stream).
func channelOf(req *sip.Request) string {
	if id := req.Recipient.User; gbid.Digits(id, 20) {
		return id
	}
	if h := req.GetHeader("Subject"); h != nil {
		if id, _, ok := strings.Cut(h.Value(), ":"); ok {
			return strings.TrimSpace(id)
		}
	}
	return req.Recipient.User
}
