package record

import (
	"path/filepath"
	"testing"
	"time"
)

func TestSegmentFileRoundTrip(t *testing.T) {
	dir := "/rec"
	start := time.Date(2026, 3, 4, 5, 6, 7, 890123000, time.FixedZone("X", 5*3600+1800))
	for _, path := range []string{"cam", "SN1/99-0-0/normal-0", "a.b~c/d_e"} {
		f := segmentFile(dir, path, start, "ab12")
		p, s, run, ok := parseSegmentFile(dir, f)
		if !ok || p != path || !s.Equal(start) || run != "ab12" {
			t.Fatalf("%s: got %q %v %q %v", f, p, s, run, ok)
		}
		if s.Location() != time.UTC {
			t.Fatalf("start read back in %v, want UTC", s.Location())
		}
	}
}

func TestParseSegmentFileRejects(t *testing.T) {
	for _, f := range []string{
		"/rec/cam/2026-03-04/20260304T050607.890123Z-ab12.mp4.tmp",
		"/rec/cam/2026-03-05/20260304T050607.890123Z-ab12.mp4", // day folder disagrees
		"/rec/2026-03-04/20260304T050607.890123Z-ab12.mp4",     // no path
		"/rec/cam/2026-03-04/20260304T050607Z-ab12.mp4",
		"/rec/cam/2026-03-04/20260304T050607.890123Z-AB12.mp4",
		"/rec/ca m/2026-03-04/20260304T050607.890123Z-ab12.mp4",
		"/rec/cam/2026-03-04/20260304T050607.890123Z-ab12.json",
	} {
		if _, _, _, ok := parseSegmentFile("/rec", filepath.FromSlash(f)); ok {
			t.Errorf("%s taken for a segment", f)
		}
	}
}

func TestMatchGlob(t *testing.T) {
	for _, c := range []struct {
		pat, path string
		want      bool
	}{
		{"**", "a", true},
		{"**", "a/b/c", true},
		{"*", "a", true},
		{"*", "a/b", false},
		{"live/*", "live/cam", true},
		{"live/*", "live/cam/x", false},
		{"live/**", "live/cam/x", true},
		{"live/**", "live", true},
		{"**/normal-0", "SN/99-0-0/normal-0", true},
		{"**/normal-0", "SN/99-0-0/wide-0", false},
		{"SN*/**", "SN123/x", true},
		{"dock-*-cam", "dock-7-cam", true},
		{"dock-*-cam", "dock-7-cams", false},
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
	} {
		if got := matchGlob(c.pat, c.path); got != c.want {
			t.Errorf("matchGlob(%q, %q) = %v, want %v", c.pat, c.path, got, c.want)
		}
	}
}
