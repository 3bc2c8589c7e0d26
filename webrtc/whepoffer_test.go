package webrtc

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/skyrelay/skyrelay/gateway"
)

// A Chrome 156 offer (trimmed): H.264 in four profiles and two
// packetization modes, RTX, Opus, G.711.
const chromeOffer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 127 125\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11\r\na=setup:actpass\r\n" +
	"a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n" +
	"a=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n" +
	"a=rtpmap:103 H264/90000\r\na=fmtp:103 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f\r\n" +
	"a=rtpmap:104 H264/90000\r\na=fmtp:104 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n" +
	"a=rtpmap:105 H264/90000\r\na=fmtp:105 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n" +
	"a=rtpmap:106 H264/90000\r\na=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f\r\n" +
	"a=rtpmap:107 H264/90000\r\na=fmtp:107 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f\r\n" +
	"a=rtpmap:127 H264/90000\r\na=fmtp:127 packetization-mode=0;profile-level-id=64001f\r\n" +
	"a=rtpmap:125 rtx/90000\r\na=fmtp:125 apt=107\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=recvonly\r\n" +
	"a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"

func h264Track(profile byte) *gateway.Track {
	t, _ := gateway.TrackFor(&format.H264{PayloadTyp: 96, PacketizationMode: 1,
		SPS: []byte{0x67, profile, 0x00, 0x28, 0xac}, PPS: []byte{0x68, 0xee}})
	return t
}

func TestPlanWHEPPicksTheStreamsProfile(t *testing.T) {
	o, err := parseWHEPOffer(chromeOffer)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		profile byte
		pt      uint8
	}{{0x64, 107}, {0x4d, 106}, {0x42, 102}, {0x58 /* extended: not offered */, 104}} {
		p, err := planWHEP(o, []*gateway.Track{h264Track(tc.profile)}, "live/a")
		if err != nil {
			t.Fatal(err)
		}
		if got := uint8(p.video.params.PayloadType); got != tc.pt {
			t.Fatalf("profile %#x: payload type %d, want %d", tc.profile, got, tc.pt)
		}
		if !strings.Contains(p.video.params.SDPFmtpLine, "packetization-mode=1") {
			t.Fatalf("fmtp %q", p.video.params.SDPFmtpLine)
		}
		// No audio track: a silent PCMU placeholder answers the audio section.
		if p.audio == nil || p.audio.src != nil || p.audio.params.MimeType != "audio/PCMU" {
			t.Fatalf("audio placeholder %+v", p.audio)
		}
	}
}

func TestPlanWHEPAudio(t *testing.T) {
	o, _ := parseWHEPOffer(chromeOffer)
	opus, _ := gateway.TrackFor(&format.Opus{PayloadTyp: 111, ChannelCount: 2})
	aac, _ := gateway.TrackFor(&format.MPEG4Audio{PayloadTyp: 97, Config: &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelCount: 2}})
	pcma, _ := gateway.TrackFor(&format.G711{PayloadTyp: 8, SampleRate: 8000, ChannelCount: 1})
	wide, _ := gateway.TrackFor(&format.G711{PayloadTyp: 96, MULaw: true, SampleRate: 16000, ChannelCount: 1})

	p, err := planWHEP(o, []*gateway.Track{h264Track(0x64), aac, opus}, "live/a")
	if err != nil {
		t.Fatal(err)
	}
	if p.audio.src != opus || p.audio.params.MimeType != "audio/opus" || uint8(p.audio.params.PayloadType) != 111 {
		t.Fatalf("audio %+v", p.audio)
	}
	if len(p.notes) != 1 || !strings.Contains(p.notes[0], "aac left out") || !strings.Contains(p.notes[0], "/live/a/index.m3u8") {
		t.Fatalf("notes %q", p.notes)
	}
	p, _ = planWHEP(o, []*gateway.Track{h264Track(0x64), pcma}, "live/a")
	if p.audio.src != pcma || p.audio.params.MimeType != "audio/PCMA" || p.audio.params.PayloadType != 8 {
		t.Fatalf("G.711: audio %+v", p.audio)
	}
	p, _ = planWHEP(o, []*gateway.Track{h264Track(0x64), wide}, "live/a")
	if p.audio.src != nil || len(p.notes) != 1 || !strings.Contains(p.notes[0], "16000 Hz") {
		t.Fatalf("16 kHz G.711: audio %+v, notes %q", p.audio, p.notes)
	}
	// Audio only: the video section is answered with a codec and no track.
	p, err = planWHEP(o, []*gateway.Track{opus}, "live/a")
	if err != nil || p.video != nil || len(p.placeholder) != 1 || p.audio.src != opus {
		t.Fatalf("audio only: %v %+v", err, p)
	}
}

func TestPlanWHEPRefusals(t *testing.T) {
	o, _ := parseWHEPOffer(chromeOffer)
	h265, _ := gateway.TrackFor(&format.H265{PayloadTyp: 96})
	_, err := planWHEP(o, []*gateway.Track{h265}, "live/x")
	rf, ok := err.(*refusal)
	if !ok || rf.status != http.StatusNotAcceptable || !strings.Contains(rf.message, "/live/x/index.m3u8") {
		t.Fatalf("H.265 to an H.264-only browser: %v", err)
	}
	// Only packetization-mode=0 offered.
	var kept []string
	for _, l := range strings.Split(chromeOffer, "\r\n") {
		if !strings.Contains(l, "packetization-mode=1") {
			kept = append(kept, l)
		}
	}
	o2, _ := parseWHEPOffer(strings.Join(kept, "\r\n"))
	if _, err := planWHEP(o2, []*gateway.Track{h264Track(0x64)}, "live/x"); err == nil {
		t.Fatal("accepted an offer without packetization-mode=1")
	}
	aac, _ := gateway.TrackFor(&format.MPEG4Audio{PayloadTyp: 97, Config: &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelCount: 2}})
	if _, err := planWHEP(o, []*gateway.Track{aac}, "live/x"); err == nil {
		t.Fatal("accepted an AAC-only stream")
	}
}

func TestParseWHEPOfferErrors(t *testing.T) {
	for _, s := range []string{"", "garbage", "v=0\r\n", strings.ReplaceAll(chromeOffer, "a=recvonly", "a=sendonly")} {
		if _, err := parseWHEPOffer(s); err == nil {
			t.Fatalf("accepted %q", s)
		}
	}
}

func FuzzParseWHEPOffer(f *testing.F) {
	f.Add(chromeOffer)
	f.Fuzz(func(t *testing.T, s string) {
		if o, err := parseWHEPOffer(s); err == nil {
			_, _ = planWHEP(o, []*gateway.Track{h264Track(0x64)}, "p")
		}
	})
}
