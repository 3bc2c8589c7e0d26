package conf

import (
	"strings"
	"time"
)

// Record is recording and playback (docs/recording.md).
type Record struct {
	Enabled bool `yaml:"enabled"`
	// Paths are globs of the paths to record: `*` one segment, `**` any
	// number. Paths started through the API are recorded regardless.
	Paths           []string      `yaml:"paths"`
	Dir             string        `yaml:"dir"`
	SegmentDuration time.Duration `yaml:"segment_duration"`
	PartDuration    time.Duration `yaml:"part_duration"`
	DeleteAfter     time.Duration `yaml:"delete_after"` // 0s keeps everything
	// OnSegmentComplete is a shell command run when a segment is finished,
	// with its path and metadata in SKYRELAY_* environment variables.
	OnSegmentComplete string `yaml:"on_segment_complete"`
}

func defaultRecord() Record {
	return Record{Paths: []string{"**"}, Dir: "./recordings", SegmentDuration: time.Hour,
		PartDuration: time.Second, DeleteAfter: 24 * time.Hour}
}

// validate checks the record section; bad reports a key's problem.
func (r Record) validate(bad func(key, format string, a ...any)) {
	if strings.TrimSpace(r.Dir) == "" {
		bad("record.dir", "must not be empty")
	}
	if r.PartDuration < 100*time.Millisecond || r.PartDuration > r.SegmentDuration {
		bad("record.part_duration", "must be at least 100ms and at most record.segment_duration")
	}
	if r.SegmentDuration < time.Second || r.SegmentDuration > 24*time.Hour {
		bad("record.segment_duration", "must be between 1s and 24h")
	}
	if r.DeleteAfter < 0 || r.DeleteAfter > 0 && r.DeleteAfter < r.SegmentDuration {
		bad("record.delete_after", "must be 0s (keep) or at least record.segment_duration, so the open file is never deleted")
	}
	for i, p := range r.Paths {
		if strings.TrimSpace(p) == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "//") {
			bad("record.paths", "entry %d (%q) is not a path glob", i, p)
		}
	}
}
