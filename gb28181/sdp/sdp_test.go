package sdp

import (
	"bytes"
	"strings"
	"testing"
)

// hikvisionAnswer is shaped after the 200 OK SDP a Hikvision camera sends
// to a UDP Play offer: CRLF, sendonly, y= and an empty f=.
const hikvisionAnswer = "v=0\r\n" +
	"o=34020000001320000001 2120 2120 IN IP4 192.0.2.64\r\n" +
	"s=Play\r\n" +
	"c=IN IP4 192.0.2.64\r\n" +
	"t=0 0\r\n" +
	"m=video 15060 RTP/AVP 96\r\n" +
	"a=sendonly\r\n" +
	"a=rtpmap:96 PS/90000\r\n" +
	"a=filesize:0\r\n" +
	"y=0200000001\r\n" +
	"f=\r\n"

// djiAnswer is shaped after what a DJI remote controller answers to a TCP
// passive offer: LF line ends, TCP/RTP/AVP, a=setup:active (it dials us),
// a=connection:new, stray spaces and no f= line.
const djiAnswer = "v=0\n" +
	"o=34020000001110000001 0 0 IN IP4 198.51.100.7\n" +
	"s=Play\n" +
	"c=IN IP4 198.51.100.7\n" +
	"t=0 0\n" +
	"m=video 9 TCP/RTP/AVP 96\n" +
	"a=rtpmap:96 PS/90000\n" +
	"a=sendonly \n" +
	"a=setup:active\n" +
	"a=connection:new\n" +
	"y=0100000002 \n"

func TestParseAnswers(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		body                  string
		addr, proto, dir, set string
		port                  int
		ssrc                  uint32
		hasF                  bool
	}{
		{"hikvision", hikvisionAnswer, "192.0.2.64", "RTP/AVP", "sendonly", "", 15060, 200000001, true},
		{"dji", djiAnswer, "198.51.100.7", "TCP/RTP/AVP", "sendonly", "active", 9, 100000002, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			v := s.Video()
			if v == nil || s.Address() != tc.addr || v.Proto != tc.proto || v.Direction != tc.dir || v.Setup != tc.set || v.Port != tc.port {
				t.Fatalf("%+v %+v", s, v)
			}
			if v.IsTCP() != (tc.proto != "RTP/AVP") || v.PayloadTypeFor("PS") != 96 {
				t.Fatalf("tcp %v pt %d", v.IsTCP(), v.PayloadTypeFor("PS"))
			}
			if ssrc, err := s.SSRCValue(); err != nil || ssrc != tc.ssrc || !ValidSSRC(s.SSRC) {
				t.Fatalf("ssrc %d %v", ssrc, err)
			}
			if s.HasFormat != tc.hasF || s.Name != "Play" {
				t.Fatalf("%+v", s)
			}
			// Written back and read again, nothing changes.
			again, err := Parse(s.Marshal())
			if err != nil || !bytes.Equal(again.Marshal(), s.Marshal()) {
				t.Fatalf("round trip: %v\n%s", err, s.Marshal())
			}
		})
	}
}

func TestParseLenient(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		check      func(*Session) bool
	}{
		{"blank lines and junk", "\r\n\r\nv=0\r\njunk\r\n=\r\nm=video 1 RTP/AVP 96\r\n\r\n", func(s *Session) bool { return len(s.Media) == 1 }},
		{"y= before m=", "v=0\ny=0123456789\nm=video 1 RTP/AVP 96\n", func(s *Session) bool { return s.SSRC == "0123456789" }},
		{"uppercase keys and proto", "V=0\nM=video 1 tcp/rtp/avp 96\nA=SETUP:PASSIVE\n", func(s *Session) bool { return s.Media[0].IsTCP() && s.Media[0].Setup == "passive" }},
		{"bad rtpmap kept as attribute", "m=video 1 RTP/AVP 96\na=rtpmap:x PS\n", func(s *Session) bool {
			return len(s.Media[0].RTPMaps) == 0 && s.Media[0].Attributes[0].Value == "x PS"
		}},
		{"audio rtpmap with channels", "m=audio 8000 RTP/AVP 8\na=rtpmap:8 PCMA/8000/1\n", func(s *Session) bool {
			r, ok := s.Media[0].RTPMap(8)
			return ok && r.Encoding == "PCMA" && r.ClockRate == 8000 && r.Params == "1"
		}},
		{"playback", "v=0\ns=Playback\nu=34020000001320000001:0\nt=1700000000 1700003600\n", func(s *Session) bool {
			return s.Name == "Playback" && s.URI == "34020000001320000001:0" && s.Start == 1700000000 && s.Stop == 1700003600
		}},
		{"short o= line", "o=dev\n", func(s *Session) bool { return s.Origin.Username == "dev" }},
		{"port with count", "m=video 6000/2 RTP/AVP 96\n", func(s *Session) bool { return s.Media[0].Port == 6000 }},
	} {
		s, err := Parse([]byte(tc.body))
		if err != nil || !tc.check(s) {
			t.Errorf("%s: %v %+v", tc.name, err, s)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, body := range []string{"", "\r\n\r\n", "hello", "m=video x RTP/AVP 96", "m=video 70000 RTP/AVP", "m=video", strings.Repeat("a=x\n", MaxSize)} {
		if _, err := Parse([]byte(body)); err == nil {
			t.Errorf("%.30q accepted", body)
		}
	}
	if _, err := Parse([]byte(strings.Repeat("m=video 1 RTP/AVP\n", maxMedia+1))); err == nil {
		t.Error("too many m= lines accepted")
	}
}

// TestOfferMarshal pins the exact bytes of a TCP-passive Play offer: field
// order of Annex F, y= then f= after the media, CRLF after every line.
func TestOfferMarshal(t *testing.T) {
	ssrc, err := LiveSSRC("3402000000", 1)
	if err != nil {
		t.Fatal(err)
	}
	got := string(Offer{ID: "34020000002000000001", IP: "203.0.113.5", Port: 30000, TCP: true, SSRC: ssrc}.Session().Marshal())
	want := "v=0\r\n" +
		"o=34020000002000000001 0 0 IN IP4 203.0.113.5\r\n" +
		"s=Play\r\n" +
		"c=IN IP4 203.0.113.5\r\n" +
		"t=0 0\r\n" +
		"m=video 30000 TCP/RTP/AVP 96 97 98 99\r\n" +
		"a=recvonly\r\n" +
		"a=rtpmap:96 PS/90000\r\n" +
		"a=rtpmap:97 MPEG4/90000\r\n" +
		"a=rtpmap:98 H264/90000\r\n" +
		"a=rtpmap:99 H265/90000\r\n" +
		"a=setup:passive\r\n" +
		"a=connection:new\r\n" +
		"y=0200000001\r\n" +
		"f=\r\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	udp := string(Offer{ID: "p", IP: "203.0.113.5", Port: 30000, SSRC: "1200000002", Channel: "34020000001320000001", Start: 10, Stop: 20}.Session().Marshal())
	for _, l := range []string{"s=Playback\r\n", "u=34020000001320000001:0\r\n", "t=10 20\r\n", "m=video 30000 RTP/AVP 96 97 98 99\r\n"} {
		if !strings.Contains(udp, l) {
			t.Fatalf("%q missing from\n%s", l, udp)
		}
	}
	if strings.Contains(udp, "setup") {
		t.Fatal("UDP offer with a=setup")
	}
	active := string(Offer{IP: "x", TCP: true, ActiveTCP: true}.Session().Marshal())
	if !strings.Contains(active, "a=setup:active\r\n") || !strings.HasPrefix(active, "v=0\r\no=- 0 0 IN IP4 x\r\n") {
		t.Fatal(active)
	}
}

func TestSSRC(t *testing.T) {
	for _, tc := range []struct {
		history bool
		domain  string
		seq     int
		want    string
		ok      bool
	}{
		{false, "3402000000", 1, "0200000001", true},
		{true, "3402000000", 1, "1200000001", true},
		{false, "4401234567", 12345, "0123452345", true},
		{false, "340200000", 1, "", false},
		{false, "34020000ab", 1, "", false},
		{false, "3402000000", -1, "", false},
	} {
		got, err := MakeSSRC(tc.history, tc.domain, tc.seq)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("%+v: %q %v", tc, got, err)
		}
	}
	s := &Session{SSRC: "9999999999"}
	if _, err := s.SSRCValue(); err == nil {
		t.Error("SSRC beyond 32 bits accepted")
	}
	if _, err := (&Session{}).SSRCValue(); err == nil {
		t.Error("missing y= accepted")
	}
	if ValidSSRC("01234") || ValidSSRC("01234567a9") || !ValidSSRC("0123456789") {
		t.Error("ValidSSRC")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(hikvisionAnswer))
	f.Add([]byte(djiAnswer))
	f.Add(Offer{ID: "a", IP: "b", Port: 1, TCP: true, SSRC: "0100000001", Channel: "c", Start: 1, Stop: 2}.Session().Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		// What Parse accepts, Marshal writes, and that reads back to the
		// same bytes.
		out := s.Marshal()
		if !bytes.HasSuffix(out, []byte("\r\n")) {
			t.Fatalf("body does not end in CRLF: %q", out)
		}
		s2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%q", err, out)
		}
		if out2 := s2.Marshal(); !bytes.Equal(out, out2) {
			t.Fatalf("not stable:\n%q\n%q", out, out2)
		}
	})
}
