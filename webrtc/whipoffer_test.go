package webrtc

import (
	"strings"
	"testing"
)

// The answer plan of a Chrome-like offer: one H.264 entry (the first with
// packetization-mode=1), one audio codec (Opus), and of the offered
// feedback only what Skyrelay acts on.
func TestPlanWHIPConservative(t *testing.T) {
	o, err := parseWHIPOffer(whipTestOffer("96 102 106", "111 0 8"))
	if err != nil {
		t.Fatal(err)
	}
	pl, err := planWHIP(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.codecs) != 2 {
		t.Fatalf("codecs %s", pl.describe())
	}
	v := pl.codecs[0].params
	if v.MimeType != "video/H264" || v.PayloadType != 102 || !strings.Contains(v.SDPFmtpLine, "packetization-mode=1") {
		t.Fatalf("video %+v", v)
	}
	if len(v.RTCPFeedback) != 2 {
		t.Fatalf("feedback %+v, want pli and fir only", v.RTCPFeedback)
	}
	if a := pl.codecs[1].params; a.MimeType != "audio/opus" || a.PayloadType != 111 {
		t.Fatalf("audio %+v", a)
	}
	if len(pl.tracks) != 2 || pl.tracks[0] != pl.video || pl.tracks[1] != pl.audio {
		t.Fatal("tracks are not video then audio")
	}
}

func TestPlanWHIPFallbacks(t *testing.T) {
	for _, tc := range []struct {
		name, video, audio string
		want               string // describe(), or "!" + error code
	}{
		{"h265 only", "116", "0", "video/h265/116,audio/pcmu/0"},
		{"h264 mode 0 only", "108", "8", "video/h264/108,audio/pcma/8"},
		{"vp8 only with audio", "96", "111", "audio/opus/111"},
		{"vp8 only", "96", "", "!codec_not_supported"},
		{"nothing usable", "96", "9", "!codec_not_supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseWHIPOffer(whipTestOffer(tc.video, tc.audio))
			if err != nil {
				t.Fatal(err)
			}
			pl, err := planWHIP(o)
			if strings.HasPrefix(tc.want, "!") {
				rf, ok := err.(*refusal)
				if !ok || rf.code != tc.want[1:] {
					t.Fatalf("got %v, want refusal %s", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := pl.describe(); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseWHIPOfferErrors(t *testing.T) {
	for _, raw := range []string{"", "garbage", "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
		strings.ReplaceAll(whipTestOffer("102", "111"), "a=sendonly", "a=recvonly")} {
		if _, err := parseWHIPOffer(raw); err == nil {
			t.Errorf("no error for %q", raw)
		}
	}
}

// whipTestOffer builds an offer with the given payload types from a fixed
// table (96 VP8, 102/106 H.264 mode 1, 108 H.264 mode 0, 116 H.265, 111
// Opus, 0 PCMU, 8 PCMA, 9 G722).
func whipTestOffer(video, audio string) string {
	rtpmap := map[string]string{
		"96":  "a=rtpmap:96 VP8/90000\r\n",
		"102": "a=rtpmap:102 H264/90000\r\na=rtcp-fb:102 nack\r\na=rtcp-fb:102 nack pli\r\na=rtcp-fb:102 ccm fir\r\na=rtcp-fb:102 transport-cc\r\na=fmtp:102 packetization-mode=1;profile-level-id=42001f\r\n",
		"106": "a=rtpmap:106 H264/90000\r\na=fmtp:106 packetization-mode=1;profile-level-id=4d001f\r\n",
		"108": "a=rtpmap:108 H264/90000\r\na=fmtp:108 packetization-mode=0;profile-level-id=42e01f\r\n",
		"116": "a=rtpmap:116 H265/90000\r\na=fmtp:116 profile-id=1\r\n",
		"111": "a=rtpmap:111 opus/48000/2\r\n",
		"0":   "a=rtpmap:0 PCMU/8000\r\n",
		"8":   "a=rtpmap:8 PCMA/8000\r\n",
		"9":   "a=rtpmap:9 G722/8000\r\n",
	}
	s := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	section := func(kind, pts string) {
		if pts == "" {
			return
		}
		s += "m=" + kind + " 9 UDP/TLS/RTP/SAVPF " + pts + "\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\n"
		for _, pt := range strings.Fields(pts) {
			s += rtpmap[pt]
		}
	}
	section("video", video)
	section("audio", audio)
	return s
}

func FuzzParseWHIPOffer(f *testing.F) {
	f.Add(whipTestOffer("96 102 106", "111 0 8"))
	f.Add(whipTestOffer("116", ""))
	f.Add("v=0\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		o, err := parseWHIPOffer(raw)
		if err != nil {
			return
		}
		_, _ = planWHIP(o)
	})
}

func TestIsKeyStart(t *testing.T) {
	for _, c := range []struct {
		b    []byte
		h265 bool
		want bool
	}{
		{[]byte{0x65, 0x88}, false, true},                   // IDR
		{[]byte{0x67, 0x42}, false, true},                   // SPS
		{[]byte{0x41, 0x9a}, false, false},                  // non-IDR slice
		{[]byte{0x7c, 0x85, 0x00}, false, true},             // FU-A start of an IDR
		{[]byte{0x7c, 0x05, 0x00}, false, false},            // FU-A continuation
		{[]byte{0x78, 0x00, 0x02, 0x67, 0x42}, false, true}, // STAP-A with an SPS
		{[]byte{0x26, 0x01, 0xaf}, true, true},              // H.265 IDR_W_RADL
		{[]byte{0x02, 0x01, 0xd0}, true, false},             // H.265 TRAIL_R
		{nil, false, false},
	} {
		if got := isKeyStart(c.b, c.h265); got != c.want {
			t.Errorf("isKeyStart(%x, %v) = %v", c.b, c.h265, got)
		}
	}
}

func FuzzIsKeyStart(f *testing.F) {
	f.Add([]byte{0x78, 0x00, 0x02, 0x67, 0x42}, false)
	f.Add([]byte{0x60, 0x01, 0x00, 0x02, 0x40, 0x01}, true)
	f.Fuzz(func(t *testing.T, b []byte, h265 bool) { _ = isKeyStart(b, h265) })
}
