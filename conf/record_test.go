package conf

import (
	"strings"
	"testing"
	"time"
)

func TestRecordConfig(t *testing.T) {
	c, err := Parse([]byte("record:\n  enabled: true\n  paths: [\"dock/**\"]\n  dir: /var/rec\n  segment_duration: 10m\n  part_duration: 500ms\n  delete_after: 0s\n  on_segment_complete: \"rclone copy $SKYRELAY_SEGMENT_PATH remote:\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Record
	if !r.Enabled || r.Paths[0] != "dock/**" || r.Dir != "/var/rec" || r.SegmentDuration != 10*time.Minute ||
		r.PartDuration != 500*time.Millisecond || r.DeleteAfter != 0 || !strings.HasPrefix(r.OnSegmentComplete, "rclone") {
		t.Fatalf("parsed %+v", r)
	}
	d := Default().Record
	if d.Enabled || d.Paths[0] != "**" || d.SegmentDuration != time.Hour || d.PartDuration != time.Second || d.DeleteAfter != 24*time.Hour {
		t.Fatalf("defaults %+v", d)
	}
	for _, c := range []struct{ yaml, key string }{
		{"record: {part_duration: 0s}", "record.part_duration"},
		{"record: {segment_duration: 10s, part_duration: 20s}", "record.part_duration"},
		{"record: {segment_duration: 1h, delete_after: 30m}", "record.delete_after"},
		{"record: {dir: \"\"}", "record.dir"},
		{"record: {paths: [\"/abs\"]}", "record.paths"},
		{"record: {segment_duraton: 1h}", "record.segment_duraton"},
	} {
		_, err := Parse([]byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s: %v, want an error naming %s", c.yaml, err, c.key)
		}
	}
}
