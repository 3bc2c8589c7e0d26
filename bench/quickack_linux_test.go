package bench

import (
	"net"
	"syscall"
)

// quickAck asks Linux to acknowledge the next read at once, as
// Skyrelay's RTMP ingest does (ingest/rtmp/quickack_linux.go): a relay in
// front of it that left delayed ACKs on would make ffmpeg's setup
// messages wait ~40 ms each and measure the relay instead of Skyrelay.
func quickAck(c net.Conn) {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
