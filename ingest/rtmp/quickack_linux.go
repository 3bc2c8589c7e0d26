package rtmp

import (
	"net"
	"syscall"
)

// quickAck makes Linux acknowledge the data the next read takes at once
// instead of after the delayed-ACK timer, and leaves its pingpong mode
// (see countConn).
func quickAck(c net.Conn) {
	// Under RTMPS the TCP connection is beneath the TLS one (and the
	// plain-text sniffer): the delayed ACKs are the same.
	for range 4 {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
