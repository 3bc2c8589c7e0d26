// Package cascade makes Skyrelay a lower platform (下级平台) of GB/T 28181
// upper platforms: NVRs, city and provincial video platforms, wvp.
//
// For every configured upstream an [Upstream] registers with MD5 digest,
// keeps the registration alive (Keepalive MESSAGEs, refresh before
// Expires, re-registration with back-off when the upstream stops answering
// or forgets us) and serves what the upstream asks: Catalog (also as a
// SUBSCRIBE with NOTIFYs when channels change), DeviceInfo, DeviceStatus,
// MobilePosition subscriptions from DJI OSD, and INVITEs for live video,
// which it answers with PS over RTP muxed from the stream without
// transcoding (UDP, or RFC 4571 over TCP in either direction).
//
// The channels are the streams of the gateway's hub plus the DJI devices
// and cameras a [ChannelSource] lists. The package reads the DJI side only
// through the small interfaces in sources.go, so the control plane stays
// free to change.
package cascade
