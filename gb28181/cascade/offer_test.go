package cascade

import (
	"strings"
	"testing"
)

func TestReadOffer(t *testing.T) {
	const base = "v=0\r\no=1 0 0 IN IP4 10.0.0.1\r\ns=Play\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=video 30000 RTP/AVP 96\r\na=recvonly\r\na=rtpmap:96 PS/90000\r\ny=0200012345\r\n"
	made := func() string { return "0000000042" }
	for _, tc := range []struct {
		name, body string
		code       int
		media      string
		ssrc       uint32
	}{
		{"udp", base, 0, mediaUDP, 200012345},
		{"tcp, upper listens", strings.Replace(base, "RTP/AVP 96", "TCP/RTP/AVP 96\r\na=setup:passive", 1), 0, mediaTCPDial, 200012345},
		{"tcp, no setup", strings.Replace(base, "RTP/AVP 96", "TCP/RTP/AVP 96", 1), 0, mediaTCPDial, 200012345},
		{"tcp, upper connects", strings.Replace(base, "RTP/AVP 96", "TCP/RTP/AVP 96\r\na=setup:active", 1), 0, mediaTCPListen, 200012345},
		{"no y=", strings.Replace(base, "y=0200012345\r\n", "", 1), 0, mediaUDP, 42},
		{"PS on 100, no rtpmap for 96", strings.Replace(strings.Replace(base, "96", "100", 1), "a=rtpmap:96", "a=rtpmap:100", 1), 0, mediaUDP, 200012345},
		{"96 without rtpmaps", strings.Replace(base, "a=rtpmap:96 PS/90000\r\n", "", 1), 0, mediaUDP, 200012345},
		{"y= too big", strings.Replace(base, "0200012345", "9999999999", 1), 400, "", 0},
		{"y= letters", strings.Replace(base, "0200012345", "02000abcde", 1), 400, "", 0},
		{"H.264 only", strings.Replace(base, "PS/90000", "H264/90000", 1), 415, "", 0},
		{"port 0", strings.Replace(base, "30000", "0", 1), 488, "", 0},
		{"no address", strings.Replace(base, "c=IN IP4 10.0.0.1\r\n", "", 1), 488, "", 0},
		{"download", strings.Replace(base, "s=Play", "s=Download", 1), 488, "", 0},
		{"empty", "", 400, "", 0},
	} {
		o, code := readOffer([]byte(tc.body), made)
		if code != tc.code {
			t.Fatalf("%s: code %d, want %d", tc.name, code, tc.code)
		}
		if code == 0 && (o.media != tc.media || o.ssrc != tc.ssrc || o.dst != "10.0.0.1:30000") {
			t.Fatalf("%s: %+v", tc.name, o)
		}
	}
}
