package record

import (
	"errors"
	"io"
	"os"
	"sort"
	"time"
)

// errNothing is a range with no recording in it.
var errNothing = errors.New("nothing recorded in this range")

// chunk is a piece of the served file: bytes made here (the init and the
// rewritten moofs) or a span of a segment file (an mdat, served as is).
type chunk struct {
	off  int64 // offset in the output
	data []byte
	f    *os.File
	fOff int64
	n    int64
	// moof: the span is a moof to rewrite with seq and shift when read,
	// so that the first byte does not wait for every moof of the range.
	moof  bool
	seq   uint32
	shift func(id uint32) int64
}

// rangeMP4 is one fragmented MP4 of a time range across segments. Its size
// is known before the first byte, so http.ServeContent answers Range
// requests on it; only the moofs are regenerated, the samples are read
// from the segment files as they are sent.
type rangeMP4 struct {
	chunks []chunk
	size   int64
	pos    int64
	files  []*os.File
	// the last moof rewritten, for the reads that follow within it
	moofAt  int64
	moofBuf []byte
	first   time.Time // wall-clock time of the first sample served
	dur     float64
}

func (m *rangeMP4) add(c chunk) {
	c.off = m.size
	if c.data != nil {
		c.n = int64(len(c.data))
	}
	m.chunks = append(m.chunks, c)
	m.size += c.n
}

// Read implements io.Reader.
func (m *rangeMP4) Read(p []byte) (int, error) {
	if m.pos >= m.size {
		return 0, io.EOF
	}
	i := sort.Search(len(m.chunks), func(i int) bool { return m.chunks[i].off+m.chunks[i].n > m.pos })
	c := m.chunks[i]
	in := m.pos - c.off
	want := min(int64(len(p)), c.n-in)
	var n int
	var err error
	switch {
	case c.data != nil:
		n = copy(p[:want], c.data[in:])
	case c.moof:
		if m.moofBuf == nil || m.moofAt != c.off {
			raw := make([]byte, c.n)
			if _, err := c.f.ReadAt(raw, c.fOff); err != nil {
				return 0, err
			}
			if m.moofBuf, err = patchMoof(raw, c.seq, c.shift); err != nil {
				return 0, err
			}
			m.moofAt = c.off
		}
		n = copy(p[:want], m.moofBuf[in:])
	default:
		n, err = c.f.ReadAt(p[:want], c.fOff+in)
		if err == io.EOF && int64(n) == want {
			err = nil
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	}
	m.pos += int64(n)
	return n, err
}

// Seek implements io.Seeker.
func (m *rangeMP4) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += m.pos
	case io.SeekEnd:
		off += m.size
	}
	if off < 0 {
		return 0, errors.New("seek before start")
	}
	m.pos = off
	return off, nil
}

// Close releases the segment files.
func (m *rangeMP4) Close() {
	for _, f := range m.files {
		_ = f.Close()
	}
}

// scanOf returns the scan of a segment: cached once it is closed, fresh
// (up to its last whole part) while it is written.
func (r *Recorder) scanOf(e *entry, f *os.File) (*scanned, error) {
	var cached *scanned
	var open bool
	var live []partInfo
	r.idx.update(e, func(e *entry) { cached, open, live = e.scan, e.open, e.live })
	if cached != nil && !open {
		return cached, nil
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var s *scanned
	if open && len(live) > 0 {
		// The writer's own table of what it wrote whole.
		if s, err = scanInit(&windowReader{r: f}, st.Size()); err == nil {
			s.parts, s.end = live, live[len(live)-1].off+live[len(live)-1].moofSize+live[len(live)-1].mdatSize
		}
	} else if open {
		s, err = scanSegment(f, st.Size())
	} else {
		s, err = readScan(f, st.Size())
	}
	if err != nil {
		return nil, err
	}
	if !open {
		r.idx.cache(e, s)
	}
	return s, nil
}

// buildRange lays out the MP4 of [start, start+dur) on path. It begins at
// the keyframe at or before start and ends with the part that holds
// start+dur. Segments follow each other on one timeline; a gap between
// runs is left out, not played as a frozen picture.
func (r *Recorder) buildRange(path string, start time.Time, dur time.Duration) (*rangeMP4, error) {
	end := start.Add(dur)
	m := &rangeMP4{}
	var first *scanned
	var cursor time.Duration // output time at the start of the next segment
	seq := uint32(0)
	for _, e := range r.idx.entries(path) {
		var eStart, eEnd time.Time
		r.idx.update(e, func(e *entry) { eStart, eEnd = e.start, e.end() })
		if !eStart.Before(end) || !eEnd.After(start) && !(eEnd.Equal(eStart) && !eStart.Before(start)) {
			continue
		}
		f, err := os.Open(e.file)
		if err != nil {
			continue // deleted meanwhile
		}
		s, err := r.scanOf(e, f)
		if err != nil || len(s.parts) == 0 || (first != nil && !sameTracks(first, s)) {
			f.Close()
			continue
		}
		ref := refTrack(s)
		// The first part to serve: the last one starting with a keyframe
		// at or before start (or the segment's first).
		i0 := 0
		for i, p := range s.parts {
			pt, ok := partStart(s, p, ref)
			if !ok || !pt.sync {
				continue
			}
			if eStart.Add(pt.at).After(start) {
				break
			}
			i0 = i
		}
		var parts []partInfo
		for _, p := range s.parts[i0:] {
			if pt, ok := partStart(s, p, ref); ok && !eStart.Add(pt.at).Before(end) {
				break
			}
			parts = append(parts, p)
		}
		if len(parts) == 0 {
			f.Close()
			continue
		}
		m.files = append(m.files, f)
		if first == nil {
			first = s
			m.add(chunk{data: s.init})
			if pt, ok := partStart(s, parts[0], ref); ok {
				m.first = eStart.Add(pt.at)
			} else {
				m.first = eStart
			}
		}
		origin, last := spanOf(s, parts)
		scales := map[uint32]uint32{}
		for _, t := range s.tracks {
			scales[t.id] = t.timeScale
		}
		at := cursor // the closure runs later, when the moof is sent
		shift := func(id uint32) int64 {
			ts := scales[id]
			if ts == 0 {
				return 0
			}
			return durToTicks(at, ts) - durToTicks(origin, ts)
		}
		for _, p := range parts {
			m.add(chunk{f: f, fOff: p.off, n: p.moofSize, moof: true, seq: seq, shift: shift})
			m.add(chunk{f: f, fOff: p.off + p.moofSize, n: p.mdatSize})
			seq++
		}
		cursor += last - origin
	}
	if first == nil {
		return nil, errNothing
	}
	m.dur = cursor.Seconds()
	// The init says how long the range lasts, for players that read the
	// duration from the header; one whose boxes we cannot patch is served
	// as the segment wrote it.
	if init, err := withDuration(m.chunks[0].data, cursor); err == nil {
		grow := int64(len(init) - len(m.chunks[0].data))
		m.chunks[0].data, m.chunks[0].n = init, int64(len(init))
		for i := 1; i < len(m.chunks); i++ {
			m.chunks[i].off += grow
		}
		m.size += grow
	}
	return m, nil
}

// partStarts is when a part begins on its track, from the segment start.
type partStartT struct {
	at   time.Duration
	sync bool
}

func partStart(s *scanned, p partInfo, ref trackInfo) (partStartT, bool) {
	for _, t := range p.tracks {
		if t.id == ref.id && ref.timeScale > 0 {
			return partStartT{at: ticksToDur(int64(t.base), ref.timeScale), sync: t.sync || !ref.video}, true
		}
	}
	return partStartT{}, false
}

// spanOf is the earliest start and the latest end of any track in parts.
func spanOf(s *scanned, parts []partInfo) (origin, last time.Duration) {
	scales := map[uint32]uint32{}
	for _, t := range s.tracks {
		scales[t.id] = t.timeScale
	}
	origin = -1
	for _, p := range parts {
		for _, t := range p.tracks {
			ts := scales[t.id]
			if ts == 0 {
				continue
			}
			b := ticksToDur(int64(t.base), ts)
			e := ticksToDur(int64(t.base+t.dur), ts)
			if origin < 0 || b < origin {
				origin = b
			}
			last = max(last, e)
		}
	}
	return max(origin, 0), last
}

func refTrack(s *scanned) trackInfo {
	for _, t := range s.tracks {
		if t.video {
			return t
		}
	}
	return s.tracks[0]
}

// sameTracks tells whether two segments can share one moov.
func sameTracks(a, b *scanned) bool {
	if len(a.tracks) != len(b.tracks) {
		return false
	}
	for i := range a.tracks {
		if a.tracks[i] != b.tracks[i] {
			return false
		}
	}
	return true
}
