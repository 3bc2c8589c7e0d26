// Package record keeps what the gateway receives and gives it back.
//
// A Recorder attaches one reader per recorded path to the stream core and
// writes fragmented MP4 segments: a file per segment_duration (cut on a
// video keyframe), made of parts that each reach the disk in one write()
// at least every part_duration, so a crash loses at most one part. The
// file layout alone is the index (layout.go): it is rebuilt at start,
// torn tails are cut off, and retention deletes whole segments by age.
// The HTTP API lists recordings and serves any time range as one MP4 with
// byte-range support (serve.go). Device metadata and OSD telemetry from
// the control plane are written beside the segments (meta.go).
package record
