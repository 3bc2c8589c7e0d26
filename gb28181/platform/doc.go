// Package platform is Skyrelay's GB/T 28181 platform: the SIP side that
// devices register with (REGISTER with MD5 digest, Keepalive, Catalog and
// DeviceInfo over MANSCDP MESSAGEs) and the media side that asks a device
// for live video (INVITE with a GB SDP offer) and turns the PS-over-RTP it
// sends into a stream of the gateway's hub.
//
// Signalling runs on emiago/sipgo over UDP and TCP on one port
// (gb28181.sip_listen). Requests to a device go to the address and port its
// last REGISTER or Keepalive came from, over the same transport, reusing the
// device's own TCP connection: devices sit behind NAT (GB/T 28181-2016 §9.1,
// RFC 3581).
//
// Media: every session gets one port from gb28181.media_ports with a UDP
// socket and a TCP listener on it. The INVITE offers "RTP/AVP" for UDP or
// "TCP/RTP/AVP" with a=setup:passive for TCP, where the device connects to
// us and frames RTP per RFC 4571. Packets go through the gb28181/ps RTP
// reorder buffer and PS demuxer; access units keep their 90 kHz PES
// timestamps. The stream is published on the hub at the first video key
// frame, with the audio track if one was seen by then; audio that appears
// later is left out (counted and logged once) because the hub's track list
// is fixed when a stream is published.
//
// DJI devices get their credentials from MintPush, which returns the
// url_type 3 url of live_start_push and INVITEs the minted channel as soon
// as the agent registers with them (gb28181/README.md).
//
// MANSCDP bodies are read and written by gb28181/manscdp, SDP by
// gb28181/sdp.
//
// Specs: GB/T 28181-2016 (§9.1 register, §9.3 query, §9.6 keepalive, §9.2
// real-time play, Annex F SDP), RFC 3261 (SIP), RFC 2617/7616 (digest),
// RFC 3550 (RTP), RFC 4571 (RTP over TCP), RFC 4145 (a=setup).
package platform
