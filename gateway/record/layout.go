package record

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// A segment lives at <dir>/<path>/<YYYY-MM-DD>/<start>-<run>.mp4, start
// in UTC with an explicit Z, so that a name never depends on the host's
// time zone. run is a short id of one uninterrupted run of the stream: two
// segments with the same run follow each other without a gap.
const (
	stampLayout = "20060102T150405.000000Z"
	dayLayout   = "2006-01-02"
	segmentExt  = ".mp4"
	metaExt     = ".json"      // device metadata beside a segment
	osdExt      = ".osd.jsonl" // telemetry beside a segment
)

var segmentName = regexp.MustCompile(`^(\d{8}T\d{6}\.\d{6}Z)-([0-9a-z]{1,16})\.mp4$`)

// segmentFile names a segment of path starting at start.
func segmentFile(dir, path string, start time.Time, run string) string {
	start = start.UTC()
	return filepath.Join(dir, filepath.FromSlash(path), start.Format(dayLayout), start.Format(stampLayout)+"-"+run+segmentExt)
}

// parseSegmentFile reads path, start and run back from a file name found
// under dir; ok is false for anything that is not a segment.
func parseSegmentFile(dir, file string) (path string, start time.Time, run string, ok bool) {
	rel, err := filepath.Rel(dir, file)
	if err != nil {
		return "", time.Time{}, "", false
	}
	rel = filepath.ToSlash(rel)
	parts := strings.Split(rel, "/")
	if len(parts) < 3 {
		return "", time.Time{}, "", false
	}
	m := segmentName.FindStringSubmatch(parts[len(parts)-1])
	if m == nil {
		return "", time.Time{}, "", false
	}
	start, err = time.Parse(stampLayout, m[1])
	if err != nil || parts[len(parts)-2] != start.Format(dayLayout) {
		return "", time.Time{}, "", false
	}
	path = strings.Join(parts[:len(parts)-2], "/")
	if validPath(path) != nil {
		return "", time.Time{}, "", false
	}
	return path, start, m[2], true
}

// sidecar is the name of a file kept beside a segment.
func sidecar(segment, ext string) string {
	return strings.TrimSuffix(segment, segmentExt) + ext
}

// newRun makes a run id.
func newRun() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// validPath is the stream core's rule, repeated for names read from disk.
func validPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return fmt.Errorf("invalid path %q", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("invalid path %q", p)
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c)) {
				return fmt.Errorf("invalid path %q", p)
			}
		}
	}
	return nil
}
