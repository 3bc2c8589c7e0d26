package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
)

// A finished segment gets a part table beside it (.idx): where each part
// is and what it holds. Serving a range then reads one small file instead
// of walking the segment's boxes (3 600 reads for an hour, random reads on
// a cold disk). It is only a cache of the boxes: a table that does not
// match the segment's size is ignored and the boxes are walked.
const (
	idxExt   = ".idx"
	idxMagic = "SKYRELAY-PARTS-1"
	// maxIdxParts bounds what a table may claim (a day of 100 ms parts).
	maxIdxParts = 1 << 20
)

// appendIdx encodes the part table of a segment whose good length is end.
func appendIdx(dst []byte, end int64, parts []partInfo) []byte {
	be := binary.BigEndian
	dst = append(dst, idxMagic...)
	dst = be.AppendUint64(dst, uint64(end))
	dst = be.AppendUint32(dst, uint32(len(parts)))
	for _, p := range parts {
		dst = be.AppendUint64(dst, uint64(p.off))
		dst = be.AppendUint64(dst, uint64(p.moofSize))
		dst = be.AppendUint64(dst, uint64(p.mdatSize))
		dst = append(dst, byte(len(p.tracks)))
		for _, t := range p.tracks {
			dst = be.AppendUint32(dst, t.id)
			dst = be.AppendUint64(dst, t.base)
			dst = be.AppendUint64(dst, t.dur)
			dst = be.AppendUint32(dst, uint32(t.count))
			sync := byte(0)
			if t.sync {
				sync = 1
			}
			dst = append(dst, sync)
		}
	}
	return dst
}

var errBadIdx = errors.New("part table does not match")

// parseIdx decodes a part table; it must describe a file of size bytes.
func parseIdx(b []byte, size int64) ([]partInfo, error) {
	if !bytes.HasPrefix(b, []byte(idxMagic)) || len(b) < len(idxMagic)+12 {
		return nil, errBadIdx
	}
	be := binary.BigEndian
	b = b[len(idxMagic):]
	if int64(be.Uint64(b)) != size {
		return nil, errBadIdx
	}
	n := be.Uint32(b[8:])
	b = b[12:]
	if n > maxIdxParts {
		return nil, errBadIdx
	}
	parts := make([]partInfo, 0, n)
	var prevEnd int64
	for i := uint32(0); i < n; i++ {
		if len(b) < 25 {
			return nil, errBadIdx
		}
		p := partInfo{off: int64(be.Uint64(b)), moofSize: int64(be.Uint64(b[8:])), mdatSize: int64(be.Uint64(b[16:]))}
		nt := int(b[24])
		b = b[25:]
		if p.off < prevEnd || p.moofSize < 8 || p.moofSize > maxMoofSize || p.mdatSize < 8 || p.off+p.moofSize+p.mdatSize > size || len(b) < nt*25 || nt == 0 {
			return nil, errBadIdx
		}
		prevEnd = p.off + p.moofSize + p.mdatSize
		for k := 0; k < nt; k++ {
			p.tracks = append(p.tracks, partTrack{id: be.Uint32(b), base: be.Uint64(b[4:]), dur: be.Uint64(b[12:]),
				count: int(be.Uint32(b[20:])), sync: b[24] == 1})
			b = b[25:]
		}
		parts = append(parts, p)
	}
	if len(b) != 0 {
		return nil, errBadIdx
	}
	return parts, nil
}

// writeIdx stores a segment's part table beside it.
func writeIdx(segment string, end int64, parts []partInfo) error {
	tmp := sidecar(segment, idxExt) + ".tmp"
	if err := os.WriteFile(tmp, appendIdx(nil, end, parts), 0o644); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, sidecar(segment, idxExt))
}

// readScan describes a segment from its part table when the table matches
// the file, else by walking its boxes.
func readScan(f *os.File, size int64) (*scanned, error) {
	b, err := os.ReadFile(sidecar(f.Name(), idxExt))
	if err == nil {
		if parts, err := parseIdx(b, size); err == nil && len(parts) > 0 {
			s, err := scanInit(&windowReader{r: f}, size)
			if err == nil && parts[0].off >= int64(len(s.init)) {
				s.parts, s.end, s.idx = parts, size, true
				return s, nil
			}
		}
	}
	return scanSegment(f, size)
}

var _ io.ReaderAt = (*windowReader)(nil)
