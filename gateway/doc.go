// Package gateway is Skyrelay's stream core: the registry of paths, one
// publisher and many readers per path, the codec processing that happens
// once per stream, and the HTTP server every output hangs off.
//
// Data flows one way. An ingest (RTMP, RTSP, WHIP, GB28181) calls
// [Hub.Publish] and writes access units or RTP packets into the returned
// [Publisher]. The stream normalises each unit once (parameter sets, empty
// and unparseable NAL units, timestamps), packetises it into RTP once, keeps
// the current GOP, and hands the same immutable [Unit] to every reader. Each
// reader runs in its own goroutine behind a bounded queue: a slow reader
// loses frames up to the next keyframe and never slows the publisher.
package gateway
