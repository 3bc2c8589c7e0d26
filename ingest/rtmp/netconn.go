package rtmp

import (
	"net"
	"sync"
	"sync/atomic"
)

// countConn counts the bytes of a connection for the streams API,
// remembers the first read error, which tells a broken connection from a
// tag that could not be parsed (see readMessage), and acknowledges what it
// reads at once.
//
// Why the quick ACK: ffmpeg (and librtmp-based encoders) send with Nagle's
// algorithm on, and the RTMP setup has several small messages that get no
// reply (releaseStream, FCPublish, onMetaData before the first frame).
// Each waits in the publisher for the ACK of the one before, which Linux
// delays up to 40 ms: measured here, 175–250 ms from accepting ffmpeg's
// connection to its first playable frame, against about 2 ms with quick
// ACKs.
//
// Only the first read after Skyrelay wrote something asks for it:
// Linux delays ACKs only in its "pingpong" mode, which it enters when the
// receiver sends data right after receiving (the setup replies, an RTMP
// Acknowledgement); otherwise a read that drains a small segment is
// acknowledged at once anyway (tcp_cleanup_rbuf). Before every read it
// cost a system call per read, 6 % of ingest CPU, and the counts of
// delayed ACKs (nstat TcpExtDelayedACKs) were the same either way
// (docs/benchmarks.md).
type countConn struct {
	net.Conn
	in, out atomic.Uint64

	// acked is set while nothing was written since the last quick ACK.
	acked atomic.Bool

	mu      sync.Mutex
	readErr error
}

func (c *countConn) Read(b []byte) (int, error) {
	if !c.acked.Swap(true) {
		quickAck(c.Conn)
	}
	n, err := c.Conn.Read(b)
	c.in.Add(uint64(n))
	if err != nil {
		c.mu.Lock()
		if c.readErr == nil {
			c.readErr = err
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *countConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(uint64(n))
	c.acked.Store(false)
	return n, err
}

// failed returns the first error the connection's reads met, if any.
func (c *countConn) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr
}
