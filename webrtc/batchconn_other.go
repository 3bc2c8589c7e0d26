//go:build !linux

package webrtc

// Batching needs UDP GSO, which only Linux has: elsewhere cork returns nil
// and every packet is written as it comes.
const batchSupported = false

func (c *batchConn) sendBatch(b *batch) error { return c.sendEach(b.buf, b.sizes, b.to) }
