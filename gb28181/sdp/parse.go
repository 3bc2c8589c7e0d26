package sdp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Bounds of the reader.
const (
	MaxSize  = 64 << 10 // bytes of one body
	maxMedia = 16
	maxAttrs = 256
)

// Errors from Parse.
var (
	ErrTooLarge = errors.New("sdp: body too large")
	ErrEmpty    = errors.New("sdp: no SDP lines")
)

// Parse reads a GB SDP body. It is lenient: CRLF or LF, blank lines,
// surrounding spaces, unknown and malformed lines (skipped), and y=/f=
// anywhere. It fails only on a body too large, one without a single SDP
// line, or an m= line whose port is not a number.
func Parse(b []byte) (*Session, error) {
	if len(b) > MaxSize {
		return nil, ErrTooLarge
	}
	s := &Session{}
	var cur *Media
	seen := false
	attrs := 0
	for len(b) > 0 {
		var line []byte
		if i := indexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		l := strings.TrimSpace(string(line))
		if len(l) < 2 || l[1] != '=' {
			continue
		}
		key, val := lower(l[0]), strings.TrimSpace(l[2:])
		seen = true
		switch key {
		case 'v':
			s.Version, _ = strconv.Atoi(val)
		case 'o':
			f := strings.Fields(val)
			for len(f) < 6 {
				f = append(f, "")
			}
			s.Origin = Origin{f[0], f[1], f[2], f[3], f[4], f[5]}
		case 's':
			s.Name = val
		case 'u':
			s.URI = val
		case 'c':
			c := parseConnection(val)
			if cur != nil {
				cur.Connection = c
			} else {
				s.Connection = c
			}
		case 't':
			f := strings.Fields(val)
			if len(f) > 0 {
				s.Start, _ = strconv.ParseUint(f[0], 10, 64)
			}
			if len(f) > 1 {
				s.Stop, _ = strconv.ParseUint(f[1], 10, 64)
			}
		case 'm':
			if len(s.Media) >= maxMedia {
				return nil, fmt.Errorf("sdp: more than %d m= lines", maxMedia)
			}
			m, err := parseMedia(val)
			if err != nil {
				return nil, err
			}
			s.Media = append(s.Media, m)
			cur = &s.Media[len(s.Media)-1]
		case 'a':
			if attrs++; attrs > maxAttrs {
				continue
			}
			if cur != nil {
				cur.addAttribute(val)
			} else {
				s.Attributes = append(s.Attributes, splitAttribute(val))
			}
		case 'y':
			s.SSRC = val
		case 'f':
			s.Format, s.HasFormat = val, true
		default:
			if len(s.Other) < maxAttrs {
				s.Other = append(s.Other, Line{Key: key, Value: val})
			}
		}
	}
	if !seen {
		return nil, ErrEmpty
	}
	return s, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func parseConnection(v string) *Connection {
	f := strings.Fields(v)
	for len(f) < 3 {
		f = append(f, "")
	}
	return &Connection{NetType: f[0], AddrType: f[1], Address: f[2]}
}

// parseMedia reads "video 6000 RTP/AVP 96 98 97".
func parseMedia(v string) (Media, error) {
	f := strings.Fields(v)
	if len(f) < 3 {
		return Media{}, fmt.Errorf("sdp: m=%q has too few fields", v)
	}
	port := f[1]
	if i := strings.IndexByte(port, '/'); i >= 0 { // port/count
		port = port[:i]
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return Media{}, fmt.Errorf("sdp: m=%q has a bad port", v)
	}
	return Media{Type: f[0], Port: p, Proto: strings.ToUpper(f[2]), Formats: f[3:]}, nil
}

func splitAttribute(v string) Attribute {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		return Attribute{Key: strings.TrimSpace(v[:i]), Value: strings.TrimSpace(v[i+1:]), HasValue: true}
	}
	return Attribute{Key: v}
}

func (m *Media) addAttribute(v string) {
	a := splitAttribute(v)
	switch strings.ToLower(a.Key) {
	case "recvonly", "sendonly", "sendrecv", "inactive":
		if !a.HasValue {
			m.Direction = strings.ToLower(a.Key)
			return
		}
	case "setup":
		m.Setup = strings.ToLower(a.Value)
		return
	case "connection":
		m.ConnMode = strings.ToLower(a.Value)
		return
	case "rtpmap":
		if r, ok := parseRTPMap(a.Value); ok {
			m.RTPMaps = append(m.RTPMaps, r)
			return
		}
	}
	m.Attributes = append(m.Attributes, a)
}

// parseRTPMap reads "96 PS/90000" or "8 PCMA/8000/1".
func parseRTPMap(v string) (RTPMap, bool) {
	f := strings.Fields(v)
	if len(f) != 2 {
		return RTPMap{}, false
	}
	pt, err := strconv.Atoi(f[0])
	if err != nil || pt < 0 || pt > 127 {
		return RTPMap{}, false
	}
	parts := strings.SplitN(f[1], "/", 3)
	r := RTPMap{PayloadType: pt, Encoding: parts[0]}
	if len(parts) > 1 {
		if r.ClockRate, err = strconv.Atoi(parts[1]); err != nil || r.ClockRate < 0 {
			return RTPMap{}, false
		}
	}
	if len(parts) > 2 {
		r.Params = parts[2]
	}
	return r, true
}
