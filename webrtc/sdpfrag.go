package webrtc

import (
	"fmt"
	"strings"

	pion "github.com/pion/webrtc/v4"
)

// iceFragment is what a trickle PATCH carries: an SDP fragment
// (application/trickle-ice-sdpfrag, RFC 8840 §9) with the client's ICE
// credentials and candidates, grouped by media section.
type iceFragment struct {
	Ufrag, Pwd string
	Candidates []pion.ICECandidateInit
}

// maxFragmentLines bounds what a PATCH may carry.
const maxFragmentLines = 256

func parseICEFragment(body string) (*iceFragment, error) {
	f := &iceFragment{}
	lines := strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	if len(lines) > maxFragmentLines {
		return nil, fmt.Errorf("SDP fragment has more than %d lines", maxFragmentLines)
	}
	var mid *string
	mline := -1
	for _, line := range lines {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "m="):
			mline++
			mid = nil
		case strings.HasPrefix(line, "a=mid:"):
			v := strings.TrimPrefix(line, "a=mid:")
			mid = &v
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			f.Ufrag = strings.TrimPrefix(line, "a=ice-ufrag:")
		case strings.HasPrefix(line, "a=ice-pwd:"):
			f.Pwd = strings.TrimPrefix(line, "a=ice-pwd:")
		case strings.HasPrefix(line, "a=candidate:"):
			if len(strings.Fields(line)) < 8 {
				return nil, fmt.Errorf("malformed candidate line %q", line)
			}
			c := pion.ICECandidateInit{Candidate: strings.TrimPrefix(line, "a=")}
			if mid != nil {
				m := *mid
				c.SDPMid = &m
			}
			if mline >= 0 {
				i := uint16(mline)
				c.SDPMLineIndex = &i
			}
			f.Candidates = append(f.Candidates, c)
		case strings.HasPrefix(line, "a=end-of-candidates"), strings.HasPrefix(line, "a=group:"),
			strings.HasPrefix(line, "a=ice-options:"), strings.HasPrefix(line, "a="):
			// nothing to do for these
		default:
			return nil, fmt.Errorf("unexpected line %q in SDP fragment", line)
		}
	}
	return f, nil
}
