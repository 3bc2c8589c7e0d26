package cloudapi

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Envelope is one DJI Cloud API message (docs/dji-cloud-api.md, the message envelope), parsed
// tolerantly: devices and DJI's own examples disagree on types and even on
// key spelling, and a gateway must not drop a message for that.
type Envelope struct {
	TID       string
	BID       string
	Timestamp int64
	Method    string
	Gateway   string
	NeedReply bool
	// Data is the raw "data" value (nil when absent).
	Data json.RawMessage
	// Extra keeps top-level keys this code does not know, untouched.
	Extra map[string]json.RawMessage
}

var ErrMalformed = errors.New("malformed message")

// Parse reads a message. Quirks it accepts: the key "timestamp:"
// (with a colon, as in several official examples), stray spaces around
// keys, tid/bid given as numbers, timestamp given as a string, need_reply as
// a bool or a string.
//
// It is the plane's hottest code (every osd of every device, 0.5-10 Hz
// each): the message is validated in one pass and its top-level members are
// then cut out by hand, instead of json.Unmarshal into a map, which scans
// the whole message three times and copies every value. Same result
// (FuzzParseEnvelope checks it against json.Unmarshal), several times faster.
func Parse(b []byte) (*Envelope, error) {
	if !Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, ShortError(err))
	}
	i := skipSpace(b, 0)
	if b[i] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	e := &Envelope{}
	i = skipSpace(b, i+1)
	for b[i] != '}' {
		// b is valid JSON, so a member is: string, colon, value, then a
		// comma or the closing brace.
		kEnd := stringEnd(b, i)
		key := memberKey(b[i:kEnd])
		i = skipSpace(b, kEnd)
		i = skipSpace(b, i+1) // the colon
		vEnd := valueEnd(b, i)
		v := json.RawMessage(b[i:vEnd])
		e.set(key, v)
		i = skipSpace(b, vEnd)
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	// Copied: the registry keeps them beyond the broker's buffer.
	e.Data = bytes.Clone(e.Data)
	for k, v := range e.Extra {
		e.Extra[k] = bytes.Clone(v)
	}
	return e, nil
}

// set stores one top-level member; a later member of the same name wins,
// and a key we do not know goes to Extra.
func (e *Envelope) set(key string, v json.RawMessage) {
	switch NormKey(key) {
	case "tid":
		e.TID = String(v)
	case "bid":
		e.BID = String(v)
	case "timestamp":
		if n, ok := Int(v); ok {
			e.Timestamp = n
		}
	case "method":
		e.Method = String(v)
	case "gateway":
		e.Gateway = String(v)
	case "need_reply":
		e.NeedReply = Bool(v)
	case "data":
		e.Data = nil
		if !IsNull(v) {
			e.Data = v
		}
	default:
		if e.Extra == nil {
			e.Extra = map[string]json.RawMessage{}
		}
		e.Extra[key] = v
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string starting at b[i].
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// valueEnd returns the index just past the JSON value starting at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}

// memberKey decodes a member name; only escapes and non-ASCII need the
// decoder (which also replaces invalid UTF-8, as json.Unmarshal would).
func memberKey(raw []byte) string {
	for _, c := range raw {
		if c == '\\' || c >= 0x80 {
			var s string
			_ = json.Unmarshal(raw, &s)
			return s
		}
	}
	return string(raw[1 : len(raw)-1])
}

// object decodes e.Data as a JSON object; an absent data is an empty one.
func (e *Envelope) Object() (map[string]json.RawMessage, error) {
	if len(e.Data) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(e.Data, &m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: data is not a JSON object", ErrMalformed)
	}
	return m, nil
}

func NormKey(k string) string {
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(k), ":"))
}

func IsNull(v json.RawMessage) bool {
	return len(bytes.TrimSpace(v)) == 0 || string(bytes.TrimSpace(v)) == "null"
}

// flexString reads a string, or the text of a number or bool.
func String(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return ""
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
		return ""
	}
	if v[0] == '-' || (v[0] >= '0' && v[0] <= '9') || string(v) == "true" || string(v) == "false" {
		return string(v)
	}
	return ""
}

// flexInt reads 3, 3.0, "3" or " 3 " as 3.
func Int(v json.RawMessage) (int64, bool) {
	s := strings.TrimSpace(String(v))
	if s == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == float64(int64(f)) {
		return int64(f), true
	}
	return 0, false
}

// flexBool reads 1, "1", true, "true".
func Bool(v json.RawMessage) bool {
	switch strings.ToLower(strings.TrimSpace(String(v))) {
	case "1", "true":
		return true
	}
	return false
}

// FlexInt is an int that also accepts a JSON string ("3") or a whole float.
type FlexInt int

// UnmarshalJSON implements json.Unmarshaler; a value that is not a number
// leaves the int at 0 rather than failing the whole message.
func (f *FlexInt) UnmarshalJSON(b []byte) error {
	if n, ok := Int(b); ok {
		*f = FlexInt(n)
	}
	return nil
}

// FlexString is a string that also accepts a number.
type FlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	*f = FlexString(String(b))
	return nil
}

func ShortError(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// reply builds a *_reply message echoing tid, bid and method.
func Reply(e *Envelope, method string, data any) []byte {
	m := map[string]any{"tid": e.TID, "bid": e.BID, "timestamp": time.Now().UnixMilli(), "data": data}
	if method != "" {
		m["method"] = method
	}
	b, _ := json.Marshal(m)
	return b
}

// NewID returns a random (version 4) UUID for tid and bid.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	out := make([]byte, 36)
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexd[c>>4], hexd[c&15]
		j += 2
	}
	return string(out)
}

// Member is one member of a JSON object, cut out without decoding: Key is
// the name (a slice of the message unless it had escapes), Value the raw
// value, a slice of the message.
type Member struct {
	Key   []byte
	Value json.RawMessage
}

// AppendMembers appends the members of the JSON object b to dst; false
// when b is not an object. b must be valid JSON, as the data of a message
// Parse accepted is. This is the osd path, every message of every device:
// with a dst on the caller's stack, it allocates nothing for plain keys.
func AppendMembers(dst []Member, b json.RawMessage) ([]Member, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return dst, false
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] != '}' {
		kEnd := stringEnd(b, i)
		key := memberKeyBytes(b[i:kEnd])
		i = skipSpace(b, kEnd)
		i = skipSpace(b, i+1) // the colon
		vEnd := valueEnd(b, i)
		dst = append(dst, Member{Key: key, Value: b[i:vEnd:vEnd]})
		i = skipSpace(b, vEnd)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return dst, true
}

// memberKeyBytes is memberKey without a copy for plain keys.
func memberKeyBytes(raw []byte) []byte {
	for _, c := range raw {
		if c == '\\' || c >= 0x80 {
			return []byte(memberKey(raw))
		}
	}
	return raw[1 : len(raw)-1]
}

// Members cuts a JSON object into its members without decoding them; false
// when b is not an object (see AppendMembers). A repeated key keeps its
// last value, as json.Unmarshal into a map does.
func Members(b json.RawMessage) (map[string]json.RawMessage, bool) {
	var buf [16]Member
	list, ok := AppendMembers(buf[:0], b)
	if !ok {
		return nil, false
	}
	m := make(map[string]json.RawMessage, len(list))
	for _, x := range list {
		m[string(x.Key)] = x.Value
	}
	return m, true
}
