package webrtc

import (
	"strings"
	"testing"
)

func TestParseICEFragment(t *testing.T) {
	f, err := parseICEFragment("a=ice-ufrag:EsAw\r\na=ice-pwd:P06OG\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n" +
		"a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0\r\na=end-of-candidates\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if f.Ufrag != "EsAw" || f.Pwd != "P06OG" || len(f.Candidates) != 1 || *f.Candidates[0].SDPMid != "0" ||
		f.Candidates[0].Candidate != "candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0" {
		t.Fatalf("%+v", f)
	}
	for _, bad := range []string{"a=candidate:1 1 udp\r\n", "x=1\r\n", strings.Repeat("a=x\r\n", maxFragmentLines+1)} {
		if _, err := parseICEFragment(bad); err == nil {
			t.Fatalf("accepted %q", bad)
		}
	}
}

func FuzzParseICEFragment(f *testing.F) {
	f.Add("a=ice-ufrag:x\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\na=candidate:1 1 udp 1 1.2.3.4 5 typ host\r\n")
	f.Fuzz(func(t *testing.T, s string) { _, _ = parseICEFragment(s) })
}
