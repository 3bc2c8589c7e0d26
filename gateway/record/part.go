package record

import (
	"encoding/binary"
)

// mp4Sample is one sample of a part. Its bytes stay where the stream core
// put them: bufs are the pieces (for video a 4-byte length before each NAL
// unit, as AVCC wants), handed to writev without being copied together.
type mp4Sample struct {
	dur     uint32
	cto     int32 // PTS - DTS
	nonSync bool
	size    uint32
	bufs    [][]byte
}

// partTrackOut is one track's run of samples in a part.
type partTrackOut struct {
	id      uint32
	base    uint64 // decode time of the first sample, from the segment start
	samples []*mp4Sample
}

// Sample flags as ISO/IEC 14496-12 §8.8.3.1 spells them; a sync sample has
// none set, like mediacommon writes.
const flagNonSync = 1 << 16

// moofSize is the size of the moof for these tracks.
func moofSize(tracks []partTrackOut) int {
	n := 8 + 16 // moof header, mfhd
	for _, t := range tracks {
		n += 8 + 16 + 20 + 20 + 16*len(t.samples) // traf, tfhd, tfdt v1, trun v1 header, entries
	}
	return n
}

// appendPart lays out moof and the mdat header for tracks into dst and
// returns it with the iovecs that follow (the samples' bytes). The moof
// uses default-base-is-moof, so each trun's data offset counts from it.
func appendPart(dst []byte, seq uint32, tracks []partTrackOut) ([]byte, int) {
	ms := moofSize(tracks)
	dataLen := 0
	for _, t := range tracks {
		for _, s := range t.samples {
			dataLen += int(s.size)
		}
	}
	be := binary.BigEndian
	dst = be.AppendUint32(dst, uint32(ms))
	dst = append(dst, "moof"...)
	dst = be.AppendUint32(dst, 16)
	dst = append(dst, "mfhd"...)
	dst = be.AppendUint32(dst, 0)
	dst = be.AppendUint32(dst, seq)
	offset := ms + 8 // the first sample byte, after the mdat header
	for _, t := range tracks {
		n := len(t.samples)
		dst = be.AppendUint32(dst, uint32(8+16+20+20+16*n))
		dst = append(dst, "traf"...)
		dst = be.AppendUint32(dst, 16)
		dst = append(dst, "tfhd"...)
		dst = be.AppendUint32(dst, 0x020000) // default-base-is-moof
		dst = be.AppendUint32(dst, t.id)
		dst = be.AppendUint32(dst, 20)
		dst = append(dst, "tfdt"...)
		dst = be.AppendUint32(dst, 1<<24) // version 1
		dst = be.AppendUint64(dst, t.base)
		dst = be.AppendUint32(dst, uint32(20+16*n))
		dst = append(dst, "trun"...)
		dst = be.AppendUint32(dst, 1<<24|0xf01) // v1: data offset, duration, size, flags, signed CTO
		dst = be.AppendUint32(dst, uint32(n))
		dst = be.AppendUint32(dst, uint32(offset))
		for _, s := range t.samples {
			flags := uint32(0)
			if s.nonSync {
				flags = flagNonSync
			}
			dst = be.AppendUint32(dst, s.dur)
			dst = be.AppendUint32(dst, s.size)
			dst = be.AppendUint32(dst, flags)
			dst = be.AppendUint32(dst, uint32(s.cto))
			offset += int(s.size)
		}
	}
	dst = be.AppendUint32(dst, uint32(8+dataLen))
	dst = append(dst, "mdat"...)
	return dst, dataLen
}

// join copies bufs into one slice.
func join(bufs [][]byte) []byte {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	out := make([]byte, 0, n)
	for _, b := range bufs {
		out = append(out, b...)
	}
	return out
}
