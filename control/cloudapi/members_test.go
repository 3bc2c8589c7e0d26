package cloudapi

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestMembers(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[string]string
		ok   bool
	}{
		{`{"mode_code":0,"cover_state":1}`, map[string]string{"mode_code": "0", "cover_state": "1"}, true},
		{` { "a" : [1,{"b":"}"}] , "c":"x\"y" } `, map[string]string{"a": `[1,{"b":"}"}]`, "c": `"x\"y"`}, true},
		{`{"a":1,"a":2}`, map[string]string{"a": "2"}, true},
		{`{"\u0061":null}`, map[string]string{"a": "null"}, true},
		{`{}`, map[string]string{}, true},
		{`[1]`, nil, false},
		{`"s"`, nil, false},
		{``, nil, false},
	} {
		got, ok := Members(json.RawMessage(c.in))
		if ok != c.ok || len(got) != len(c.want) {
			t.Errorf("Members(%s) = %v %v", c.in, got, ok)
			continue
		}
		for k, v := range c.want {
			if string(got[k]) != v {
				t.Errorf("Members(%s)[%s] = %s, want %s", c.in, k, got[k], v)
			}
		}
	}
}

// FuzzMembers checks Members against json.Unmarshal into a map for every
// valid JSON text (Members is only given valid JSON).
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":{"b":[1,2,{"c":"]}"}]},"d":"\\\""}`, `{"a":1,"a":2}`, `[]`, `1`, `{"k\u00e9":true}`, " {\n} "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		got, ok := Members(b)
		var want map[string]json.RawMessage
		err := json.Unmarshal(b, &want)
		isObject := err == nil && want != nil
		if ok != isObject {
			t.Fatalf("%q: Members ok=%v, json.Unmarshal object=%v (%v)", b, ok, isObject, err)
		}
		if !ok {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d members, want %d", b, len(got), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(bytes.TrimSpace(got[k]), bytes.TrimSpace(v)) {
				t.Fatalf("%q: member %q = %s, want %s", b, k, got[k], v)
			}
		}
	})
}
