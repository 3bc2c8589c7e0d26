package control

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

// parseEnvelopeRef is the straightforward parser (json.Unmarshal into a
// map) that parseEnvelope must agree with.
func parseEnvelopeRef(b []byte) (*envelope, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errMalformed
	}
	e := &envelope{}
	for k, v := range m {
		switch normKey(k) {
		case "tid":
			e.TID = flexString(v)
		case "bid":
			e.BID = flexString(v)
		case "timestamp":
			if n, ok := flexInt(v); ok {
				e.Timestamp = n
			}
		case "method":
			e.Method = flexString(v)
		case "gateway":
			e.Gateway = flexString(v)
		case "need_reply":
			e.NeedReply = flexBool(v)
		case "data":
			if !isNull(v) {
				e.Data = v
			}
		default:
			if e.Extra == nil {
				e.Extra = map[string]json.RawMessage{}
			}
			e.Extra[k] = v
		}
	}
	return e, nil
}

// FuzzParseEnvelope checks the hand-cut parser against json.Unmarshal.
func FuzzParseEnvelope(f *testing.F) {
	for _, s := range append(append([]string{}, unparsable...), oddlyTyped...) {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		topoMsg("t", "GW", "AIR"),
		msg("c", "", dockCapacity("GW", "AIR"), map[string]any{"gateway": "GW", "need_reply": 1}),
		string(benchOSD(nil, "GW", 7)),
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
		got, err := parseEnvelope(b)
		want, werr := parseEnvelopeRef(b)
		if (err != nil) != (werr != nil) {
			t.Fatalf("%q: error %v, reference %v", b, err, werr)
		}
		if err != nil {
			return
		}
		// Two keys that differ only by the quirks normKey forgives ("tid"
		// and " tid") make the reference depend on map order: skip those.
		var m map[string]json.RawMessage
		_ = json.Unmarshal(b, &m)
		seen := map[string]bool{}
		for k := range m {
			if n := normKey(k); seen[n] {
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

// FuzzValidJSON checks validJSON against json.Valid.
func FuzzValidJSON(f *testing.F) {
	for _, s := range append(append([]string{}, unparsable...), oddlyTyped...) {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		string(benchOSD(nil, "GW", 7)), `{}`, `[]`, `[{}]`, `{"a":[]}`, ` 1 `, `-0.5e+3`, `01`, `1.`, `.5`, `-`, `1e`, `1E+`,
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
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid = %v", b, got, want)
		}
	})
}

// BenchmarkValidJSON compares validJSON with json.Valid on a dock osd.
func BenchmarkValidJSON(b *testing.B) {
	pl := benchOSD(nil, "GW", 7)
	for _, c := range []struct {
		name string
		fn   func([]byte) bool
	}{{"encoding_json", json.Valid}, {"validJSON", validJSON}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(pl)))
			for b.Loop() {
				if !c.fn(pl) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
