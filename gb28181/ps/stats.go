package ps

// Stats counts what the demuxer saw, skipped and dropped. All counters only
// grow; read them with [Demuxer.Stats].
type Stats struct {
	Bytes         uint64 // PS bytes written to the demuxer
	Packs         uint64 // pack headers
	PSMs          uint64 // program stream maps parsed
	PES           uint64 // PES packets of audio or video streams
	SkippedBytes  uint64 // well-formed but unused: padding, private streams, system headers, ...
	GarbageBytes  uint64 // bytes thrown away while looking for the next pack header
	Resyncs       uint64 // times the demuxer lost sync (garbage, or a reset after loss)
	VideoAUs      uint64 // access units handed out
	AudioFrames   uint64 // audio frames handed out
	DroppedAUs    uint64 // video access units dropped: too large, too many NAL units, cut by loss, unknown codec
	DroppedPES    uint64 // PES packets dropped: scrambled, inconsistent header, unsupported codec
	DroppedAudio  uint64 // audio bytes dropped: no ADTS sync, oversized frames, cut by loss
	EmptyNALUs    uint64 // zero-length NAL units removed from access units
	GuessedPTS    uint64 // video units without a PES timestamp, given the previous one plus a frame
	Discontinuity uint64 // resets (Reset or loss) after which the next unit is flagged
}
