// Package webrtc serves Skyrelay's streams to browsers over WebRTC.
//
// WHEP playback (RFC 9725 style signalling, draft-ietf-wish-whep) and WHIP
// ingest (RFC 9725, whip*.go) share the same Server, listeners and peer
// set-up.
// Every peer uses one UDP port and one TCP port (webrtc.listen), so a
// server behind a firewall or a NAT needs exactly those two holes, and the
// addresses announced in ICE candidates are configurable (webrtc.public_ips)
// and visible through [Server.ICEAddresses], because wrong candidates are
// the most common reason a WebRTC player shows nothing.
//
// Media is not re-packetised: the stream core makes RTP once per stream
// (payloads of at most 1188 bytes) and every WHEP peer forwards those shared
// packets with its own sequence numbers and timestamps written into a header
// copy. A viewer that joins gets the current GOP at once, with its
// timestamps compressed, so the browser shows a picture within a few hundred
// milliseconds even with the 2–3 s GOPs of DJI drones, then continues live.
package webrtc
