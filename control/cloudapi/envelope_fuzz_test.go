package cloudapi

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

// parseEnvelopeRef is the straightforward parser (json.Unmarshal into a
// map) that Parse must agree with.
func parseEnvelopeRef(b []byte) (*Envelope, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, ErrMalformed
	}
	// Members in the map's order: the scanner is under test here, not
	// what a member means (Envelope.set, shared).
	e := &Envelope{}
	for k, v := range m {
		e.set(k, v)
	}
	return e, nil
}

// FuzzParseEnvelope checks the hand-cut parser against json.Unmarshal.
func FuzzParseEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"tid":"t","bid":"b","data":{"live_capacity":{`, `not JSON`, ``, `[1,2]`, `null`, `"s"`, "\xff\xfe\x00",
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
		`{"tid":{},"bid":[],"timestamp":"yesterday","method":7,"need_reply":"maybe","gateway":false,"data":"a string"}`,
		`{"tid":"huge","timestamp":1e400,"need_reply":99999999999999999999999,"data":{"domain":1e400}}`,
		`{"tid":"t","bid":"b","timestamp":1,"method":"update_topo","data":{"domain":"3","type":119,"sub_type":0,` +
			`"sub_devices":[{"sn":"AIR","domain":"0","type":91,"sub_type":0,"index":"A","thing_version":"1.2"}]}}`,
		`{"tid":"c","bid":"b","timestamp":1,"gateway":"GW","need_reply":1,"data":{"live_capacity":{"available_video_number":1,` +
			`"device_list":[{"sn":"AIR","camera_list":[{"camera_index":"99-0-0","video_list":[{"video_index":"normal-0","video_type":"wide"}]}]}]}}}`,
		`{"tid":"o","bid":"b","timestamp":1,"gateway":"GW","data":{"latitude":22.5,"longitude":113.9,"height":120.25,"mode_code":7}}`,
		` { "tid" : "a\"b\\" , "bid":12, "timestamp:":"17", "data" : [ {"x":"}]"} , 2 ] , "extra":{"k":[1,{"a":"\u00e9"}]}, "need_reply":true } `,
		`{"\u0074id":"escaped key","data":null,"method":"m","gat\u00e9way":1}`,
		`{"data":{"a":1},"data":null}`,
		`{"data":"x","tid":"1","tid":"2"}`,
		`{}`, `{"a":-1.5e+10,"b":true,"c":false,"d":null,"e":""}`,
		"{\"k\xff\":1}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Parse(b)
		want, werr := parseEnvelopeRef(b)
		if (err != nil) != (werr != nil) {
			t.Fatalf("%q: error %v, reference %v", b, err, werr)
		}
		if err != nil {
			return
		}
		// Two keys that differ only by the quirks NormKey forgives ("tid"
		// and " tid") make the reference depend on map order: skip those.
		var m map[string]json.RawMessage
		_ = json.Unmarshal(b, &m)
		seen := map[string]bool{}
		for k := range m {
			if n := NormKey(k); seen[n] {
				return
			} else {
				seen[n] = true
			}
		}
		if got.TID != want.TID || got.BID != want.BID || got.Timestamp != want.Timestamp || got.Method != want.Method ||
			got.Gateway != want.Gateway || got.NeedReply != want.NeedReply || !bytes.Equal(got.Data, want.Data) ||
			!maps.EqualFunc(got.Extra, want.Extra, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
			t.Fatalf("%q:\n got %+v\nwant %+v", b, got, want)
		}
	})
}

// FuzzValidJSON checks Valid against json.Valid.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{
		`{"tid":"o","gateway":"GW","data":{"latitude":22.5,"height":120.25}}`, `not JSON`, "\xff\xfe", `{}`, `[]`, `[{}]`, `{"a":[]}`, ` 1 `, `-0.5e+3`, `01`, `1.`, `.5`, `-`, `1e`, `1E+`,
		`"\u00e9\ud83d"`, `"\u12G4"`, `"\x"`, "\"a\tb\"", `tru`, `nulll`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{1:2}`, `[1 2]`,
		`{"a":{"b":[1,{"c":null}]}}`, `]`, `}`, `[}`, `{]`, `""`, `"`, "\"\xff\"",
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
		strings.Repeat("[", 9999) + "{}" + strings.Repeat("]", 9999),
		strings.Repeat("[", 10000) + "{}" + strings.Repeat("]", 10000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid = %v", b, got, want)
		}
	})
}
