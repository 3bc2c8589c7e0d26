package rtmp

import (
	"fmt"
	"strings"
	"time"

	"github.com/bluenviron/gortmplib/pkg/message"
)

// maxBadInARow ends a connection none of whose messages parse: a peer that
// does not speak RTMP, or whose chunk stream we lost.
const maxBadInARow = 64

// readMessage returns the next message gortmplib can parse.
//
// gortmplib's message layer fails on tags it does not know (an audio codec
// id 15 from a DJI Mini 4 Pro, mediamtx#2564; a malformed video header,
// mediamtx#2393; AMF3 data). Such a message was read whole by the chunk
// layer before parsing failed, so the byte stream is still in step: the
// message is counted as skipped and the next one read. Errors of the
// connection or of the chunk layer end the connection, since the stream
// can no longer be followed.
func (c *conn) readMessage() (message.Message, error) {
	for bad := 0; ; {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.s.ReadTimeout))
		msg, err := c.sc.Read()
		if err == nil {
			return msg, nil
		}
		if c.cc.failed() != nil || chunkLayerError(err) {
			return nil, err
		}
		c.s.Hub.Stats().Skipped.Add(1)
		c.skips.note(c, err)
		if bad++; bad >= maxBadInARow {
			return nil, fmt.Errorf("%d messages in a row could not be parsed, the last: %w", bad, err)
		}
	}
}

// chunkLayerError tells the errors of gortmplib's chunk layer
// (pkg/rawmessage, pkg/chunk) from those of its message layer: all of them
// speak of chunks or of the body size.
func chunkLayerError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "chunk") || strings.Contains(s, "body size")
}

// skipLog logs each kind of unparseable message once per connection, so a
// device that sends one in every tag does not flood the log.
type skipLog struct {
	seen map[string]bool
}

func (l *skipLog) note(c *conn, err error) {
	msg := err.Error()
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if l.seen[msg] || len(l.seen) >= 16 {
		return
	}
	l.seen[msg] = true
	c.log.Warn("skipping messages that cannot be parsed", "reason", redact(msg))
}
