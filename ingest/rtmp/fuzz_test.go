package rtmp

import (
	"net/url"
	"strings"
	"testing"
	"unsafe"
)

// within reports whether sub lies inside buf (the splitter must never
// copy or reach outside the tag it was given).
func within(buf, sub []byte) bool {
	if len(sub) == 0 {
		return true
	}
	b, s := uintptr(unsafe.Pointer(unsafe.SliceData(buf))), uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return s >= b && s+uintptr(len(sub)) <= b+uintptr(len(buf))
}

// FuzzSplitNALUs: any tag payload is cut into at most maxNALUs units that
// lie inside it, whatever its lengths claim.
func FuzzSplitNALUs(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 0}, 4)
	f.Add([]byte{0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68}, 4)
	f.Add([]byte{0, 0, 0, 9, 0x65}, 4)
	f.Add([]byte{0, 3, 1, 2, 3}, 2)
	f.Fuzz(func(t *testing.T, buf []byte, lengthSize int) {
		nalus, _ := splitNALUs(buf, lengthSize)
		if len(nalus) > maxNALUs {
			t.Fatalf("%d units, more than %d", len(nalus), maxNALUs)
		}
		for _, n := range nalus {
			if !within(buf, n) {
				t.Fatal("a unit lies outside the tag")
			}
		}
	})
}

// FuzzParseAVCConfig: a decoder configuration record either gives an SPS
// and a PPS from inside it and a length size of 1 to 4, or is refused.
func FuzzParseAVCConfig(f *testing.F) {
	f.Add([]byte{1, 0x42, 0, 0x1e, 0xff, 0xe1, 0, 2, 0x67, 0x42, 1, 0, 1, 0x68})
	f.Add([]byte{1, 0x42, 0, 0x1e, 0xff, 0xe2, 0, 1, 0x67, 0, 1, 0x67, 1, 0, 1, 0x68})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		params, ls, ok := parseAVCConfig(b)
		if !ok {
			return
		}
		if len(params) != 2 || len(params[0]) == 0 || len(params[1]) == 0 || ls < 1 || ls > 4 {
			t.Fatalf("accepted with params %d, length size %d", len(params), ls)
		}
		for _, p := range params {
			if !within(b, p) {
				t.Fatal("a parameter set lies outside the record")
			}
		}
	})
}

// FuzzStreamPath: any publish URL gives a path without a query, so that a
// secret never becomes part of a stream's name.
func FuzzStreamPath(f *testing.F) {
	f.Add("rtmp://h/live/a?secret=S")
	f.Add("rtmp://h/live?secret=S/a")
	f.Add("rtmp://h//x/../y?a=b&secret=")
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		path, _ := streamPath(u)
		if strings.Contains(path, "?") {
			t.Fatalf("the query is in the path %q", path)
		}
		// Whatever follows a '?' (where secrets ride) is gone from a log line.
		red := redact(raw)
		for rest := red; ; {
			i := strings.IndexByte(rest, '?')
			if i < 0 {
				break
			}
			rest = rest[i+1:]
			if !strings.HasPrefix(rest, "REDACTED") {
				t.Fatalf("redact left a query in %q", red)
			}
		}
	})
}
