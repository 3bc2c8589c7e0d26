package sdp

import (
	"strconv"
	"strings"
)

// Marshal writes the session in the order of GB/T 28181-2016 Annex F
// (RFC 4566 order, then y= and f= after the media), every line ending
// in CRLF, so the body ends with CRLF. Empty optional fields are left out.
func (s *Session) Marshal() []byte {
	var b strings.Builder
	line := func(k byte, parts ...string) {
		b.WriteByte(k)
		b.WriteByte('=')
		b.WriteString(strings.Join(parts, " "))
		b.WriteString("\r\n")
	}
	o := s.Origin
	line('v', strconv.Itoa(s.Version))
	line('o', orDash(o.Username), orZero(o.SessionID), orZero(o.SessionVersion), orIN(o.NetType), orIP4(o.AddrType), orDash(o.Address))
	line('s', orDash(s.Name))
	if s.URI != "" {
		line('u', s.URI)
	}
	if c := s.Connection; c != nil {
		line('c', orIN(c.NetType), orIP4(c.AddrType), c.Address)
	}
	line('t', strconv.FormatUint(s.Start, 10), strconv.FormatUint(s.Stop, 10))
	for _, l := range s.Other {
		line(l.Key, l.Value)
	}
	for _, a := range s.Attributes {
		line('a', a.String())
	}
	for _, m := range s.Media {
		line('m', append([]string{m.Type, strconv.Itoa(m.Port), m.Proto}, m.Formats...)...)
		if c := m.Connection; c != nil {
			line('c', orIN(c.NetType), orIP4(c.AddrType), c.Address)
		}
		if m.Direction != "" {
			line('a', m.Direction)
		}
		for _, r := range m.RTPMaps {
			line('a', "rtpmap:"+r.String())
		}
		if m.Setup != "" {
			line('a', "setup:"+m.Setup)
		}
		if m.ConnMode != "" {
			line('a', "connection:"+m.ConnMode)
		}
		for _, a := range m.Attributes {
			line('a', a.String())
		}
	}
	if s.SSRC != "" {
		line('y', s.SSRC)
	}
	if s.HasFormat || s.Format != "" {
		line('f', s.Format)
	}
	return []byte(b.String())
}

// String is "96 PS/90000".
func (r RTPMap) String() string {
	s := strconv.Itoa(r.PayloadType) + " " + r.Encoding + "/" + strconv.Itoa(r.ClockRate)
	if r.Params != "" {
		s += "/" + r.Params
	}
	return s
}

// String is "key:value" or "key".
func (a Attribute) String() string {
	if a.HasValue {
		return a.Key + ":" + a.Value
	}
	return a.Key
}

func orDash(s string) string { return or(s, "-") }
func orZero(s string) string { return or(s, "0") }
func orIN(s string) string   { return or(s, "IN") }
func orIP4(s string) string  { return or(s, "IP4") }

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
