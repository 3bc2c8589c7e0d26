package platform

// A small GB/T 28181 SDP writer and reader (2016 Annex F): general SDP
// parsers refuse the y= and f= lines. It stands in for gb28181/sdp until
// that package is there.

import (
	"fmt"
	"strconv"
	"strings"
)

// offer describes the SDP the platform puts into a live INVITE.
type offer struct {
	serverID string
	host     string // c= and o= address
	port     int
	tcp      bool // TCP/RTP/AVP with a=setup:passive (the device connects)
	ssrc     string
}

// String writes the offer in the order of the standard's examples, lines
// ending in CRLF, the body ending in one too (some devices answer 415
// otherwise).
func (o offer) String() string {
	proto := "RTP/AVP"
	if o.tcp {
		proto = "TCP/RTP/AVP"
	}
	var b strings.Builder
	line := func(s string) { b.WriteString(s); b.WriteString("\r\n") }
	line("v=0")
	line("o=" + o.serverID + " 0 0 IN IP4 " + o.host)
	line("s=Play")
	line("c=IN IP4 " + o.host)
	line("t=0 0")
	line("m=video " + strconv.Itoa(o.port) + " " + proto + " 96")
	line("a=recvonly")
	line("a=rtpmap:96 PS/90000")
	if o.tcp {
		line("a=setup:passive")
		line("a=connection:new")
	}
	line("y=" + o.ssrc)
	return b.String()
}

// answer is what the platform reads of a device's SDP answer.
type answer struct {
	host   string // c= address
	port   int    // m=video port
	tcp    bool
	setup  string // a=setup value: active, passive, actpass
	ssrc   string // y= (may differ from the offer's)
	hasPS  bool   // PS among the payload types
	format string // the first rtpmap of the m= line, e.g. "PS/90000"
}

// parseAnswer reads an SDP answer liberally: LF or CRLF, any order, unknown
// lines ignored. It needs a video m= line.
func parseAnswer(body []byte) (answer, error) {
	var a answer
	inVideo, seenVideo := false, false
	for _, raw := range strings.Split(string(body), "\n") {
		l := strings.TrimSpace(raw)
		if len(l) < 2 || l[1] != '=' {
			continue
		}
		k, v := l[0], strings.TrimSpace(l[2:])
		switch k {
		case 'c':
			if f := strings.Fields(v); len(f) >= 3 && (a.host == "" || inVideo) {
				a.host = f[2]
			}
		case 'm':
			f := strings.Fields(v)
			inVideo = len(f) >= 3 && f[0] == "video" && !seenVideo
			if inVideo {
				seenVideo = true
				if n, err := strconv.Atoi(f[1]); err == nil {
					a.port = n
				}
				a.tcp = strings.HasPrefix(strings.ToUpper(f[2]), "TCP")
			}
		case 'a':
			if !inVideo {
				continue
			}
			name, val, _ := strings.Cut(v, ":")
			switch strings.ToLower(name) {
			case "setup":
				a.setup = strings.ToLower(strings.TrimSpace(val))
			case "rtpmap":
				if _, enc, ok := strings.Cut(val, " "); ok {
					enc = strings.TrimSpace(enc)
					if a.format == "" {
						a.format = enc
					}
					if strings.HasPrefix(strings.ToUpper(enc), "PS/") {
						a.hasPS = true
					}
				}
			}
		case 'y':
			a.ssrc = v
		}
	}
	if !seenVideo {
		return a, fmt.Errorf("SDP answer has no video media")
	}
	return a, nil
}
