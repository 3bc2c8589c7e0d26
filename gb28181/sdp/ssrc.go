package sdp

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrSSRC is returned for a y= value or SIP domain that breaks the rules of
// GB/T 28181-2016 Annex F.
var ErrSSRC = errors.New("sdp: SSRC must be 10 decimal digits")

// ValidSSRC tells whether s is 10 decimal digits, as Hikvision devices
// insist.
func ValidSSRC(s string) bool {
	if len(s) != 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// SSRCValue is the SSRC the RTP packets carry: the y= digits read as a
// decimal number. Lenient: any decimal that fits in 32 bits is taken.
func (s *Session) SSRCValue() (uint32, error) {
	if s.SSRC == "" {
		return 0, fmt.Errorf("sdp: no y= line")
	}
	v, err := strconv.ParseUint(s.SSRC, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("sdp: y=%q is not a 32-bit decimal SSRC", s.SSRC)
	}
	return uint32(v), nil
}

// MakeSSRC builds a y= value (GB/T 28181-2016 Annex F): digit 1 is 0 for
// live and 1 for history (playback, download); digits 2–6 are the 4th to
// 8th digits of the 10-digit SIP domain ID; digits 7–10 are a sequence
// number (taken modulo 10000).
func MakeSSRC(history bool, domain string, seq int) (string, error) {
	if !ValidSSRC(domain) || seq < 0 {
		return "", fmt.Errorf("%w: domain %q, sequence %d", ErrSSRC, domain, seq)
	}
	first := '0'
	if history {
		first = '1'
	}
	return fmt.Sprintf("%c%s%04d", first, domain[3:8], seq%10000), nil
}

// LiveSSRC is MakeSSRC for live video.
func LiveSSRC(domain string, seq int) (string, error) { return MakeSSRC(false, domain, seq) }
