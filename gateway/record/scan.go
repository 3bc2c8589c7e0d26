package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// Limits on what a segment file may contain; a box beyond them is treated
// as damage, never allocated.
const (
	maxMoovSize = 1 << 20
	maxMoofSize = 4 << 20
)

// scanned is what a segment file holds, read from its boxes: the init
// (ftyp+moov) and every complete part. Parts are described, not loaded.
type scanned struct {
	init   []byte // ftyp+moov, as stored
	tracks []trackInfo
	parts  []partInfo
	end    int64 // end of the last complete part: the file's good length
	idx    bool  // read from the part table, not from the boxes
}

type trackInfo struct {
	id        uint32
	timeScale uint32
	video     bool
	codec     string
}

// partInfo is one moof+mdat.
type partInfo struct {
	off      int64 // moof offset in the file
	moofSize int64
	mdatSize int64 // whole mdat box, header included
	tracks   []partTrack
}

type partTrack struct {
	id    uint32
	base  uint64 // tfdt
	dur   uint64 // sum of sample durations
	count int
	sync  bool // first sample is a sync sample
}

var errNoInit = errors.New("no ftyp+moov at the start of the file")

// scanSegment walks the boxes of r (size bytes). A torn tail (a box that
// runs past the end, or an unparsable moof) ends the walk: end tells where
// the good data stops.
// scanInit reads ftyp and moov at the start of a segment.
func scanInit(r io.ReaderAt, size int64) (*scanned, error) {
	s := &scanned{}
	var off int64
	var hdr [16]byte
	for _, want := range []string{"ftyp", "moov"} {
		typ, _, bl, err := readBoxHeader(r, off, size, hdr[:])
		if err != nil || typ != want || bl > maxMoovSize {
			return nil, fmt.Errorf("%w (%s at %d)", errNoInit, typ, off)
		}
		off += bl
	}
	s.init = make([]byte, off)
	if _, err := r.ReadAt(s.init, 0); err != nil {
		return nil, err
	}
	var in fmp4.Init
	if err := in.Unmarshal(bytes.NewReader(s.init)); err != nil {
		return nil, fmt.Errorf("moov: %w", err)
	}
	for _, t := range in.Tracks {
		s.tracks = append(s.tracks, trackInfo{id: uint32(t.ID), timeScale: t.TimeScale, video: t.Codec.IsVideo(), codec: codecName(t.Codec)})
	}
	if len(s.tracks) == 0 {
		return nil, fmt.Errorf("%w: moov without tracks", errNoInit)
	}
	s.end = off
	return s, nil
}

func scanSegment(ra io.ReaderAt, size int64) (*scanned, error) {
	r := &windowReader{r: ra}
	s, err := scanInit(r, size)
	if err != nil {
		return nil, err
	}
	off := int64(len(s.init))
	var hdr [16]byte
	for off < size {
		typ, _, bl, err := readBoxHeader(r, off, size, hdr[:])
		if err != nil {
			break
		}
		if typ != "moof" {
			off += bl // tolerate free/skip boxes
			s.end = off
			continue
		}
		if bl > maxMoofSize {
			break
		}
		moof := make([]byte, bl)
		if _, err := r.ReadAt(moof, off); err != nil {
			break
		}
		tracks, err := parseMoof(moof)
		if err != nil {
			break
		}
		mtyp, _, ml, err := readBoxHeader(r, off+bl, size, hdr[:])
		if err != nil || mtyp != "mdat" {
			break
		}
		s.parts = append(s.parts, partInfo{off: off, moofSize: bl, mdatSize: ml, tracks: tracks})
		off += bl + ml
		s.end = off
	}
	return s, nil
}

// readBoxHeader reads the box at off; the box must fit in size.
func readBoxHeader(r io.ReaderAt, off, size int64, buf []byte) (typ string, hdrLen, boxLen int64, err error) {
	if size-off < 8 {
		return "", 0, 0, io.ErrUnexpectedEOF
	}
	if _, err := r.ReadAt(buf[:8], off); err != nil {
		return "", 0, 0, err
	}
	boxLen, hdrLen = int64(binary.BigEndian.Uint32(buf)), 8
	typ = string(buf[4:8])
	if boxLen == 1 {
		if size-off < 16 {
			return "", 0, 0, io.ErrUnexpectedEOF
		}
		if _, err := r.ReadAt(buf[8:16], off+8); err != nil {
			return "", 0, 0, err
		}
		boxLen, hdrLen = int64(binary.BigEndian.Uint64(buf[8:16])), 16
	}
	if boxLen < hdrLen || boxLen > size-off {
		return typ, 0, 0, io.ErrUnexpectedEOF
	}
	return typ, hdrLen, boxLen, nil
}

// children calls fn for each box inside b (a box's payload).
func children(b []byte, fn func(typ string, box []byte, payload []byte) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return errors.New("short box header")
		}
		n := uint64(binary.BigEndian.Uint32(b))
		h := uint64(8)
		if n == 1 {
			if len(b) < 16 {
				return errors.New("short box header")
			}
			n, h = binary.BigEndian.Uint64(b[8:]), 16
		}
		if n < h || n > uint64(len(b)) {
			return errors.New("box runs past its parent")
		}
		if err := fn(string(b[4:8]), b[:n], b[h:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// parseMoof reads each traf's track id, tfdt, durations and first-sample
// sync flag. moof is the whole box.
func parseMoof(moof []byte) ([]partTrack, error) {
	if len(moof) < 8 {
		return nil, errors.New("short moof")
	}
	var out []partTrack
	err := children(moof[8:], func(typ string, _ []byte, p []byte) error {
		if typ != "traf" {
			return nil
		}
		t, err := parseTraf(p)
		if err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	if err == nil && len(out) == 0 {
		err = errors.New("moof without traf")
	}
	return out, err
}

const sampleNonSync = 1 << 16

func parseTraf(b []byte) (partTrack, error) {
	var t partTrack
	var defDur, defFlags uint32
	haveTfhd, haveDefFlags := false, false
	err := children(b, func(typ string, _ []byte, p []byte) error {
		switch typ {
		case "tfhd":
			if len(p) < 8 {
				return errors.New("short tfhd")
			}
			flags := binary.BigEndian.Uint32(p) & 0xffffff
			t.id = binary.BigEndian.Uint32(p[4:])
			q := p[8:]
			for _, f := range []struct {
				bit uint32
				n   int
				dst *uint32
			}{{0x1, 8, nil}, {0x2, 4, nil}, {0x8, 4, &defDur}, {0x10, 4, nil}, {0x20, 4, &defFlags}} {
				if flags&f.bit == 0 {
					continue
				}
				if len(q) < f.n {
					return errors.New("short tfhd")
				}
				if f.dst != nil {
					*f.dst = binary.BigEndian.Uint32(q)
					if f.bit == 0x20 {
						haveDefFlags = true
					}
				}
				q = q[f.n:]
			}
			haveTfhd = true
		case "tfdt":
			if len(p) < 8 {
				return errors.New("short tfdt")
			}
			if p[0] == 1 {
				if len(p) < 12 {
					return errors.New("short tfdt")
				}
				t.base = binary.BigEndian.Uint64(p[4:])
			} else {
				t.base = uint64(binary.BigEndian.Uint32(p[4:]))
			}
		case "trun":
			if !haveTfhd {
				return errors.New("trun before tfhd")
			}
			if len(p) < 8 {
				return errors.New("short trun")
			}
			flags := binary.BigEndian.Uint32(p) & 0xffffff
			n := binary.BigEndian.Uint32(p[4:])
			q := p[8:]
			firstFlags, haveFirst := uint32(0), false
			if flags&0x1 != 0 {
				if len(q) < 4 {
					return errors.New("short trun")
				}
				q = q[4:]
			}
			if flags&0x4 != 0 {
				if len(q) < 4 {
					return errors.New("short trun")
				}
				firstFlags, haveFirst = binary.BigEndian.Uint32(q), true
				q = q[4:]
			}
			per := 0
			for _, bit := range []uint32{0x100, 0x200, 0x400, 0x800} {
				if flags&bit != 0 {
					per += 4
				}
			}
			if uint64(len(q)) < uint64(n)*uint64(per) {
				return errors.New("trun runs past its box")
			}
			for i := uint32(0); i < n; i++ {
				o := 0
				d := defDur
				if flags&0x100 != 0 {
					d = binary.BigEndian.Uint32(q[o:])
					o += 4
				}
				if flags&0x200 != 0 {
					o += 4
				}
				if flags&0x400 != 0 && i == 0 && !haveFirst {
					firstFlags, haveFirst = binary.BigEndian.Uint32(q[o:]), true
				}
				t.dur += uint64(d)
				q = q[per:]
			}
			if t.count == 0 {
				switch {
				case haveFirst:
					t.sync = firstFlags&sampleNonSync == 0
				case haveDefFlags:
					t.sync = defFlags&sampleNonSync == 0
				default:
					t.sync = true
				}
			}
			t.count += int(n)
		}
		return nil
	})
	if err == nil && !haveTfhd {
		err = errors.New("traf without tfhd")
	}
	return t, err
}

// patchMoof rewrites, in a copy of moof, the sequence number and every
// tfdt moved by shift[track id] ticks. Sizes do not change, so the trun
// data offsets (relative to the moof) stay right.
func patchMoof(moof []byte, seq uint32, shift func(id uint32) int64) ([]byte, error) {
	out := bytes.Clone(moof)
	err := children(out[8:], func(typ string, _ []byte, p []byte) error {
		switch typ {
		case "mfhd":
			if len(p) < 8 {
				return errors.New("short mfhd")
			}
			binary.BigEndian.PutUint32(p[4:], seq)
		case "traf":
			var id uint32
			return children(p, func(typ string, _ []byte, q []byte) error {
				switch typ {
				case "tfhd":
					if len(q) < 8 {
						return errors.New("short tfhd")
					}
					id = binary.BigEndian.Uint32(q[4:])
				case "tfdt":
					if len(q) < 8 {
						return errors.New("short tfdt")
					}
					if q[0] == 1 && len(q) >= 12 {
						v := int64(binary.BigEndian.Uint64(q[4:])) + shift(id)
						binary.BigEndian.PutUint64(q[4:], uint64(max(v, 0)))
					} else {
						v := int64(binary.BigEndian.Uint32(q[4:])) + shift(id)
						binary.BigEndian.PutUint32(q[4:], uint32(max(v, 0)))
					}
				}
				return nil
			})
		}
		return nil
	})
	return out, err
}

func codecName(c codecs.Codec) string {
	switch c.(type) {
	case *codecs.H264:
		return "h264"
	case *codecs.H265:
		return "h265"
	case *codecs.MPEG4Audio:
		return "aac"
	case *codecs.Opus:
		return "opus"
	case *codecs.LPCM:
		return "lpcm"
	}
	return "other"
}

// duration of the scanned file: the end of its longest track.
func (s *scanned) duration() float64 {
	ends := map[uint32]uint64{}
	for _, p := range s.parts {
		for _, t := range p.tracks {
			if e := t.base + t.dur; e > ends[t.id] {
				ends[t.id] = e
			}
		}
	}
	var d float64
	for _, tr := range s.tracks {
		if tr.timeScale > 0 {
			d = max(d, float64(ends[tr.id])/float64(tr.timeScale))
		}
	}
	return d
}

// windowReader serves the scanner's small reads (box headers, moofs) from
// one 8 KiB read: a part (a moof of about 1.2 KB, then the mdat header)
// then costs one system call instead of three.
type windowReader struct {
	r   io.ReaderAt
	off int64
	buf []byte
}

const scanWindow = 8 << 10

func (w *windowReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= w.off && off+int64(len(p)) <= w.off+int64(len(w.buf)) {
		return copy(p, w.buf[off-w.off:]), nil
	}
	if len(p) > scanWindow {
		return w.r.ReadAt(p, off)
	}
	if cap(w.buf) < scanWindow {
		w.buf = make([]byte, scanWindow)
	}
	n, err := w.r.ReadAt(w.buf[:scanWindow], off)
	w.off, w.buf = off, w.buf[:n]
	if n >= len(p) {
		return copy(p, w.buf), nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return copy(p, w.buf), err
}
