package record

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// The segment file: made with its first part, one writev per part, closed
// with its part table; a write error ends it at its last whole part.

// segment is the file being written.
type segment struct {
	e          *entry
	f          *os.File
	osdF       *os.File
	wall       time.Time     // wall-clock time of its first sample
	start      time.Duration // stream time of its first sample
	startTicks []int64       // start in each track's clock
	ids        []int         // MP4 track id by stream track index, 0: not in the file
	params     string        // the video parameter sets in its moov
	written    int64         // bytes of whole parts (and init) on disk
	seq        uint32
	partRef    int64 // reference-track ticks in the pending part
	refEnd     int64
	lastFlush  time.Time
	late       bool       // a track began after the file was made: rotate at the next keyframe
	parts      []partInfo // what was written, for the part table at close
}

// flushPart writes the pending part in one writev; the first part of a
// segment creates the file and carries the init with it.
func (p *pathRec) flushPart() {
	seg := p.seg
	if seg == nil || !p.partPending() {
		return
	}
	p.buf.Reset()
	if seg.e == nil {
		if err := p.create(seg); err != nil {
			p.fail(err)
			return
		}
	}
	p.outTracks = p.outTracks[:0]
	for i, t := range p.tracks {
		if t == nil || len(t.part) == 0 || seg.ids[i] == 0 {
			continue
		}
		p.outTracks = append(p.outTracks, partTrackOut{id: uint32(seg.ids[i]), base: uint64(t.partBase - seg.startTicks[i]), samples: t.part})
	}
	p.iov = p.iov[:0]
	partOff := seg.written
	if b := p.buf.Bytes(); len(b) > 0 {
		p.iov = append(p.iov, b) // a new file: the init goes with the first part
		partOff += int64(len(b))
	}
	var info partInfo
	if len(p.outTracks) > 0 {
		var dataLen int
		p.hdr, dataLen = appendPart(p.hdr[:0], seg.seq, p.outTracks)
		info = partInfo{off: partOff, moofSize: int64(len(p.hdr) - 8), mdatSize: int64(8 + dataLen)}
		for _, tr := range p.outTracks {
			pt := partTrack{id: tr.id, base: tr.base, count: len(tr.samples), sync: !tr.samples[0].nonSync}
			for _, s := range tr.samples {
				pt.dur += uint64(s.dur)
			}
			info.tracks = append(info.tracks, pt)
		}
		p.iov = append(p.iov, p.hdr)
		for _, tr := range p.outTracks {
			for _, s := range tr.samples {
				p.iov = append(p.iov, s.bufs...)
			}
		}
	}
	for _, t := range p.tracks {
		if t != nil {
			t.part = t.part[:0:0]
		}
	}
	seg.partRef, seg.lastFlush = 0, time.Now()
	if len(p.iov) == 0 {
		return
	}
	if p.r.beforeWrite != nil {
		p.r.beforeWrite()
	}
	n, err := writeParts(seg.f, p.iov)
	clear(p.iov) // let the units go
	if err != nil {
		p.fail(err)
		return
	}
	seg.written += int64(n)
	seg.seq++
	if info.tracks != nil {
		seg.parts = append(seg.parts, info)
	}
	p.r.metrics.bytesWritten.Add(uint64(n))
	rt := p.tracks[p.ref]
	dur := float64(seg.refEnd-seg.startTicks[p.ref]) / float64(rt.timeScale)
	// live is what has been written whole: the server reads it instead of
	// walking the boxes of the open file. Appends never touch the
	// elements a copied slice header covers.
	live := seg.parts[:len(seg.parts):len(seg.parts)]
	p.r.idx.update(seg.e, func(e *entry) { e.bytes, e.dur, e.live = seg.written, max(dur, 0), live })
}

// create makes the segment's file with the tracks that have data now: a
// track announced but silent (DJI's audio) stays out of the file.
func (p *pathRec) create(seg *segment) error {
	var init fmp4.Init
	id := 0
	for i, t := range p.tracks {
		if t == nil || len(t.part) == 0 {
			continue
		}
		it, err := t.initTrack(id + 1)
		if err != nil {
			p.r.Log.Warn("track left out of the recording", "path", p.path, "track", i, "err", err)
			continue
		}
		id++
		seg.ids[i] = id
		init.Tracks = append(init.Tracks, it)
	}
	if id == 0 {
		return errors.New("no track ready to record")
	}
	seg.params = p.paramsKey()
	if err := init.Marshal(&p.buf); err != nil {
		return err
	}
	file := segmentFile(p.r.Dir, p.path, seg.wall, p.run)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if errors.Is(err, os.ErrExist) {
		// Same microsecond, same run: only a clock step back does this.
		p.run = newRun()
		file = segmentFile(p.r.Dir, p.path, seg.wall, p.run)
		f, err = os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	}
	if errors.Is(err, os.ErrNotExist) {
		// Retention removed the (then empty) day folder between the two
		// calls: make it again rather than lose a retry period.
		if err = os.MkdirAll(filepath.Dir(file), 0o755); err == nil {
			f, err = os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		}
	}
	if err != nil {
		return err
	}
	seg.f = f
	seg.e = &entry{path: p.path, file: file, run: p.run, start: seg.wall, open: true, meta: p.device}
	p.r.idx.add(seg.e)
	p.r.metrics.segments.Add(1)
	if p.device != (Device{}) {
		if err := writeMeta(file, p.device); err != nil {
			p.r.Log.Warn("recording metadata not written", "path", p.path, "err", err)
		}
	}
	p.r.setError(p.path, nil)
	return nil
}

// fail handles a write error: the segment ends at its last whole part,
// the path pauses, and live streaming goes on untouched.
func (p *pathRec) fail(err error) {
	p.r.metrics.writeErrors.Add(1)
	p.r.setError(p.path, err)
	p.r.Log.Error("recording failed; retrying", "path", p.path, "err", err, "retry_in", retryAfter)
	if seg := p.seg; seg != nil && seg.f != nil {
		_ = seg.f.Truncate(seg.written)
		_ = seg.f.Close()
		if seg.osdF != nil {
			_ = seg.osdF.Close()
		}
		if seg.seq == 0 {
			p.r.idx.remove(seg.e)
			removeSegment(seg.e.file)
		} else {
			p.r.idx.update(seg.e, func(e *entry) { e.open, e.live = false, nil })
		}
	}
	p.seg, p.prev = nil, nil
	p.resetTiming()
	p.pausedUntil = time.Now().Add(retryAfter)
}

// closeSegment finishes the open segment. newRun ends the run too (a gap,
// a jump, a publisher that left): the held samples go out with their
// nominal duration and the next segment waits for a keyframe.
func (p *pathRec) closeSegment(why string, newRun bool) {
	if seg := p.seg; seg != nil {
		if newRun {
			for i, t := range p.tracks {
				if t != nil && t.held != nil {
					t.held.s.dur = uint32(max(t.nominal, 1))
					p.commit(i, t, *t.held)
					t.held = nil
				}
			}
		}
		p.flushPart()
	}
	if seg := p.seg; seg != nil {
		p.seg = nil
		if seg.f != nil {
			_ = seg.f.Close()
			if seg.osdF != nil {
				_ = seg.osdF.Close()
			}
			if err := writeIdx(seg.e.file, seg.written, seg.parts); err != nil {
				p.r.Log.Warn("part table not written; the segment is served by walking its boxes", "file", seg.e.file, "err", err)
			}
			var done entry
			p.r.idx.update(seg.e, func(e *entry) { e.open, e.live = false, nil; done = *e })
			p.r.Log.Debug("segment complete", "path", p.path, "file", seg.e.file, "why", why)
			p.r.runHook(done)
			if p.r.segmentDone != nil {
				p.r.segmentDone(done.path, done.file)
			}
			p.prev = seg
		}
	}
	if newRun {
		p.prev = nil
		p.resetTiming()
	}
}

func (p *pathRec) setDevice(d Device) {
	p.device = d
	if d == (Device{}) {
		// The session ended: the segment recorded during it keeps what
		// it was; only the next one carries no device.
		return
	}
	if seg := p.seg; seg != nil && seg.e != nil {
		p.r.idx.update(seg.e, func(e *entry) { e.meta = d })
		if err := writeMeta(seg.e.file, d); err != nil {
			p.r.Log.Warn("recording metadata not written", "path", p.path, "err", err)
		}
	}
}

// writeOSD appends one telemetry line beside the open segment.
func (p *pathRec) writeOSD(o osdSample) {
	seg := p.seg
	if seg == nil || seg.e == nil {
		p.r.metrics.osdDropped.Add(1)
		return
	}
	if seg.osdF == nil {
		f, err := os.OpenFile(sidecar(seg.e.file, osdExt), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			p.r.metrics.osdDropped.Add(1)
			return
		}
		seg.osdF = f
	}
	b, err := json.Marshal(osdLine{Time: o.at.UTC(), Offset: o.at.Sub(seg.wall).Seconds(), OSD: o.osd})
	if err != nil {
		p.r.metrics.osdDropped.Add(1)
		return
	}
	if _, err := seg.osdF.Write(append(b, '\n')); err != nil {
		p.r.metrics.osdDropped.Add(1)
		return
	}
	p.r.metrics.osdLines.Add(1)
}
