// Package ps demultiplexes and multiplexes MPEG-2 Program Streams (PS) as
// GB/T 28181 devices send them over RTP, and as ffmpeg (-f vob) and
// GStreamer (mpegpsmux) write them.
//
// The [Demuxer] takes PS bytes in chunks of any size and hands out whole
// access units: video as NAL units without start codes, audio as frames
// (AAC without its ADTS header, or G.711 samples), each with its PES
// timestamp at 90 kHz, unwrapped across the 33-bit wrap. It never panics,
// bounds every length it reads, resynchronises on the next pack header
// after garbage, and counts what it skipped or dropped in [Stats].
//
// The [RTPReceiver] sits in front of it for PS over RTP (GB/T 28181-2016
// §4.2.2 / 2022 Annex C, RFC 3550): it reorders packets in a small window,
// resets the demuxer on loss, and uses the marker bit as a flush hint.
// [FrameReader] reads RFC 4571 framing (2-byte length before every RTP
// packet) from a TCP connection.
//
// The [Muxer] writes PS the way GB/T 28181 expects it: a pack header before
// every access unit, and the system header and program stream map before
// every key frame.
//
// Reference: ISO/IEC 13818-1 (MPEG-2 Systems) §2.4.3.6 (PES packet),
// §2.5.3 (pack and system header), §2.5.4 (program stream map); stream
// types 0x90/0x91 for G.711 are GB/T 28181 additions.
package ps
