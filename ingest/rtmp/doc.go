// Package rtmp is Skyrelay's RTMP listener (rtmp.listen, :1935): encoders,
// DJI docks and remote controllers publish to rtmp://HOST:1935/PATH, and
// players read any stream back from the same URL.
//
// Publishers feed the stream core: H.264 (legacy FLV or Enhanced RTMP),
// H.265 (Enhanced RTMP, FourCC hvc1), AAC, Opus and G.711 go to
// gateway.Publisher as access units. The handshake and chunk layer are
// gortmplib's; the tag layer above it is ours, because gortmplib's Reader
// probes for two seconds and throws those frames away, ends the connection
// on a single tag it cannot parse, and rejects empty NAL units, all of which
// DJI devices send (docs/field-quirks.md, "DJI video over RTMP").
//
// Tracks are detected from the first tags: the sequence headers and the
// first coded frame. onMetaData, when present, only says which tracks to
// expect; a track it announces that does not show up within
// Server.TrackWait is given up, and a track that appears after the stream
// started is ignored (the stream stays with the tracks it started with).
// Frames read while tracks are being detected are kept and delivered, so
// the first keyframe is never lost.
//
// Players get the stream through a gateway.Reader and gortmplib's Writer.
package rtmp
