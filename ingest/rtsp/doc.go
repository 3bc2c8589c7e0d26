// Package rtsp is Skyrelay's RTSP server: one listener (rtsp.listen, :8554,
// plus the UDP pair rtsp.udp_rtp_listen/udp_rtcp_listen, :8000/:8001) that
// takes publishers (ANNOUNCE/RECORD, RFC 2326 §10.3 and §10.11) and serves
// readers (DESCRIBE/SETUP/PLAY), over TCP-interleaved and UDP transport.
//
// Publishers feed the stream core: every RTP packet goes to
// gateway.Publisher.WriteRTP, which depacketises and normalises it once for
// every output. Readers of a path share one gortsplib.ServerStream, made at
// the first RTSP reader and fed by a gateway.Sink with the RTP packets the
// core already made: whatever published the path (RTSP, RTMP, WHIP,
// GB28181), RTSP readers get the same packets, packetised once.
package rtsp
