// Package gbsim is a GB/T 28181 device simulator for Skyrelay's tests and
// benchmarks: it registers with a platform (MD5 digest, over UDP or TCP),
// sends Keepalives, answers Catalog and DeviceInfo queries (the catalog in
// several parts), answers INVITE with a GB SDP and sends an H.264 clip as
// PS over RTP — over UDP, or over TCP (RFC 4571) where it dials the
// platform's media port (TCP-active, the answer to an a=setup:passive
// offer) — until BYE, and can hang up itself. For field cases it can loop a
// short clip with its timestamps starting over (RestartClock, ClipFrames:
// an encoder that restarts) and leave INVITEs unanswered (IgnoreInvites: a
// device that hangs), counting the CANCELs that end them.
//
// It is built on sipgo, gb28181/manscdp, gb28181/sdp and the gb28181/ps
// muxer. It plays the device side only; it is not a general SIP UA.
package gbsim
