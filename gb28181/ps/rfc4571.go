package ps

import (
	"bufio"
	"errors"
	"io"
)

// RFC 4571 framing: on a TCP connection every RTP (or RTCP) packet is
// preceded by its length as a 16-bit big-endian number. GB/T 28181 uses it
// for "TCP/RTP/AVP" media (2016 §4.2.2, Annex F a=setup / a=connection).

// FrameStats counts what a FrameReader saw.
type FrameStats struct {
	Frames       uint64 // frames returned
	Empty        uint64 // zero-length frames skipped
	GarbageBytes uint64 // bytes skipped while hunting for the next frame
	Resyncs      uint64 // times the framing was lost and found again
}

// ErrFraming is returned when no plausible frame was found within
// MaxResync bytes: the peer is not sending RFC 4571 RTP.
var ErrFraming = errors.New("ps: lost RFC 4571 framing")

// DefaultMaxResync bounds the bytes a FrameReader skips looking for the
// next frame before it gives up.
const DefaultMaxResync = 1 << 20

// FrameReader reads RFC 4571 frames from a stream. It checks that each
// frame looks like RTP version 2 of the same SSRC and payload type as the
// frames before it; when one does not, the framing was lost (a peer bug or
// a byte dropped), and the reader hunts byte by byte for the next place
// where a length prefix is followed by such a packet.
type FrameReader struct {
	// MaxResync bounds the hunt (default DefaultMaxResync bytes).
	MaxResync int

	r     *bufio.Reader
	stats FrameStats
	known bool // ssrc and pt hold the last good packet's values
	ssrc  [4]byte
	pt    byte
	buf   []byte
}

// NewFrameReader reads frames from r.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, 2+0xFFFF+2)}
}

// Stats returns the counters so far.
func (f *FrameReader) Stats() FrameStats { return f.stats }

// plausible tells whether b could be the next RTP or RTCP packet.
func (f *FrameReader) plausible(b []byte) bool {
	if len(b) < 8 || b[0]>>6 != 2 {
		return false
	}
	if isRTCP(b) {
		return true
	}
	if len(b) < 12 {
		return false
	}
	return !f.known || (b[1]&0x7F == f.pt && [4]byte(b[8:12]) == f.ssrc)
}

// Next returns the next frame. The slice is valid until the next call. At
// the end of the stream it returns io.EOF (io.ErrUnexpectedEOF inside a
// frame).
func (f *FrameReader) Next() ([]byte, error) {
	hunted := 0
	for {
		hdr, err := f.r.Peek(2)
		if err != nil {
			if err == io.EOF && len(hdr) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		n := be16(hdr)
		if n == 0 {
			f.stats.Empty++
			_, _ = f.r.Discard(2)
			continue
		}
		b, err := f.r.Peek(2 + n)
		if err != nil && len(b) < 2+n && (err != io.EOF || hunted == 0) {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if len(b) < 2+n || !f.plausible(b[2:2+n]) {
			if hunted == 0 {
				f.stats.Resyncs++
			}
			hunted++
			f.stats.GarbageBytes++
			_, _ = f.r.Discard(1)
			max := f.MaxResync
			if max <= 0 {
				max = DefaultMaxResync
			}
			if hunted > max {
				return nil, ErrFraming
			}
			continue
		}
		pkt := b[2 : 2+n]
		if !isRTCP(pkt) {
			f.known, f.pt, f.ssrc = true, pkt[1]&0x7F, [4]byte(pkt[8:12])
		}
		f.buf = append(f.buf[:0], pkt...)
		_, _ = f.r.Discard(2 + n)
		f.stats.Frames++
		return f.buf, nil
	}
}

// AppendFrame appends pkt with its RFC 4571 length prefix to dst.
func AppendFrame(dst, pkt []byte) ([]byte, error) {
	if len(pkt) > 0xFFFF {
		return dst, errors.New("ps: packet too long for RFC 4571")
	}
	dst = append(dst, byte(len(pkt)>>8), byte(len(pkt)))
	return append(dst, pkt...), nil
}
