package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"github.com/skyrelay/skyrelay/gateway"
)

// retryAfter is how long a path waits after a write error (disk full,
// unwritable folder) before it tries a new segment.
const retryAfter = 5 * time.Second

var errStopped = errors.New("recording stopped")

// pathRec records one stream: a reader of the stream core feeds its run
// goroutine, which alone touches the files. Everything else reaches it
// through channels.
type pathRec struct {
	r       *Recorder
	path    string
	stream  *gateway.Stream
	reader  *gateway.Reader
	tracks  []*recTrack // by stream track index; nil: not recordable
	ref     int         // the track that times parts and segments
	video   bool
	bframes bool

	in   chan gateway.Frame
	cut  chan string
	dev  chan Device
	osd  chan osdSample
	quit chan struct{}
	done chan struct{}

	device      Device
	run         string
	seg         *segment
	prev        *segment // the last segment of this run, for names
	pausedUntil time.Time
	lastFrame   time.Time
	dropped     uint64 // the reader's losses seen so far
	tmp         []sample
	buf         seekablebuffer.Buffer // the init
	hdr         []byte                // moof and mdat header
	iov         [][]byte
	outTracks   []partTrackOut
}

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

func newPathRec(r *Recorder, s *gateway.Stream, dev Device) (*pathRec, error) {
	p := &pathRec{r: r, path: s.Path(), stream: s, device: dev, run: newRun(), ref: -1,
		in: make(chan gateway.Frame), cut: make(chan string, 4), dev: make(chan Device, 4),
		osd: make(chan osdSample, 256), quit: make(chan struct{}), done: make(chan struct{})}
	for _, t := range s.Tracks() {
		rt, err := newRecTrack(t)
		if err != nil {
			r.Log.Warn("track not recorded", "path", p.path, "track", t.Index, "err", err)
		}
		p.tracks = append(p.tracks, rt)
		if rt != nil && (p.ref < 0 || rt.video && !p.video) {
			p.ref, p.video = t.Index, rt.video
		}
	}
	if p.ref < 0 {
		return nil, errors.New("no track can be recorded")
	}
	p.reader = &gateway.Reader{Protocol: "record", SkipRTP: true, SkipBytes: true, QueueSize: r.QueueSize,
		Plays: func(t *gateway.Track) bool { return t.Index < len(p.tracks) && p.tracks[t.Index] != nil },
		Handle: func(f gateway.Frame) error {
			select {
			case p.in <- f:
				return nil
			case <-p.quit:
				return errStopped
			}
		}}
	return p, nil
}

func (p *pathRec) runLoop() {
	defer close(p.done)
	tick := time.NewTicker(max(p.r.PartDuration/4, 50*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case f := <-p.in:
			p.lastFrame = time.Now()
			p.frame(f)
		case why := <-p.cut:
			p.closeSegment(why, true)
		case d := <-p.dev:
			p.setDevice(d)
		case o := <-p.osd:
			p.writeOSD(o)
		case now := <-tick.C:
			p.tick(now)
		case <-p.reader.Done():
			p.closeSegment("stream ended", true)
			return
		case <-p.quit:
			p.reader.Close()
			p.closeSegment("stopped", true)
			return
		}
	}
}

func (p *pathRec) frame(f gateway.Frame) {
	i := f.Track.Index
	t := p.tracks[i]
	if t == nil || time.Now().Before(p.pausedUntil) {
		return
	}
	if d := p.reader.Dropped(); d != p.dropped {
		// The disk fell behind and the reader lost frames up to this
		// keyframe: a gap, written as the end of a run, never as one long
		// sample.
		p.dropped = d
		p.closeSegment("frames lost to a slow disk", true)
	}
	if i == p.ref && t.video {
		p.bframes = p.stream.HasBFrames()
	}
	ss, err := t.samples(f.Unit, p.bframes, p.tmp[:0])
	if err != nil {
		p.r.metrics.skipped.Add(1)
	}
	for _, s := range ss {
		p.add(i, t, s, f.Unit.Arrival)
	}
	p.tmp = ss[:0]
}

// maxStep is the largest forward step taken as continuous; a larger one
// (or a step back of more than a frame) is a new run, never a duration.
func (t *recTrack) maxStep() int64 {
	return max(2*int64(t.timeScale), 10*t.nominal)
}

// add times one sample: the held one gets its duration and goes to the
// part; this one is held.
func (p *pathRec) add(i int, t *recTrack, s sample, arrival time.Time) {
	if t.hasLast {
		delta := s.dts - t.lastDTS
		switch {
		case delta > t.maxStep() || delta < -max(t.nominal, 1) || delta > 1<<31:
			p.r.metrics.jumps.Add(1)
			p.closeSegment("timestamp jump", true)
		default:
			if delta <= 0 {
				// DTS must rise strictly: a zero duration breaks MSE.
				s.dts = t.lastDTS + max(t.nominal, 1)
				delta = s.dts - t.lastDTS
				p.r.metrics.repaired.Add(1)
			} else if t.video {
				t.nominal = delta
			}
			t.held.s.dur = uint32(delta)
			p.commit(i, t, *t.held)
		}
	}
	if i == p.ref && (!t.video || !s.s.nonSync) {
		p.atKey(s.dts, t, arrival)
	}
	h := s
	t.held, t.lastDTS, t.hasLast = &h, s.dts, true
}

// atKey runs before a keyframe (or, without video, any sample of the
// reference track) is held: it cuts a part, rotates the segment when it
// is due, and opens one when none is open.
func (p *pathRec) atKey(dts int64, t *recTrack, arrival time.Time) {
	if seg := p.seg; seg != nil {
		long := ticksToDur(dts, t.timeScale)-seg.start >= p.r.SegmentDuration
		switch {
		case long || seg.late:
			p.closeSegment("rotation", false)
		case t.video && p.paramsKey() != seg.params && seg.e != nil:
			p.closeSegment("parameter sets changed", false)
		case t.video && p.partPending():
			p.flushPart()
		}
	}
	if p.seg == nil && !time.Now().Before(p.pausedUntil) {
		p.openSegment(dts, t, arrival)
	}
}

func (p *pathRec) openSegment(dts int64, t *recTrack, arrival time.Time) {
	start := ticksToDur(dts, t.timeScale)
	wall := arrival
	if p.prev != nil {
		// Rotation within a run: names follow the stream's own clock.
		wall = p.prev.wall.Add(start - p.prev.start)
	}
	seg := &segment{wall: wall, start: start, startTicks: make([]int64, len(p.tracks)),
		ids: make([]int, len(p.tracks)), lastFlush: time.Now()}
	for i, rt := range p.tracks {
		if rt != nil {
			seg.startTicks[i] = durToTicks(start, rt.timeScale)
			rt.part, rt.seen = rt.part[:0], false
		}
	}
	p.seg = seg
}

// commit puts a timed sample into the pending part.
func (p *pathRec) commit(i int, t *recTrack, s sample) {
	seg := p.seg
	if seg == nil || s.dts < seg.startTicks[i] {
		return
	}
	if seg.e != nil && seg.ids[i] == 0 {
		seg.late = true
		return
	}
	if len(t.part) == 0 {
		t.partBase = s.dts
	}
	t.part = append(t.part, s.s)
	if i == p.ref {
		seg.partRef += int64(s.s.dur)
		seg.refEnd = s.dts + int64(s.s.dur)
		if seg.partRef >= durToTicks(p.r.PartDuration, t.timeScale) {
			p.flushPart()
		}
	}
}

func (p *pathRec) partPending() bool {
	for _, t := range p.tracks {
		if t != nil && len(t.part) > 0 {
			return true
		}
	}
	return false
}

// flushPart writes the pending part in one write(); the first part of a
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
	p.r.idx.update(seg.e, func(e *entry) { e.bytes, e.dur = seg.written, max(dur, 0) })
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
			p.r.idx.update(seg.e, func(e *entry) { e.open = false })
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
			p.r.idx.update(seg.e, func(e *entry) { e.open = false; done = *e })
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

func (p *pathRec) resetTiming() {
	p.run = newRun()
	for _, t := range p.tracks {
		if t != nil {
			t.resetTiming()
		}
	}
}

func (p *pathRec) tick(now time.Time) {
	seg := p.seg
	if seg == nil {
		return
	}
	if now.Sub(p.lastFrame) > max(2*p.r.PartDuration, 2*time.Second) {
		p.closeSegment("publisher gap", true)
		return
	}
	// The tick runs every quarter part: flushing at three quarters keeps
	// what is only in memory under one part_duration.
	if now.Sub(seg.lastFlush) >= p.r.PartDuration*3/4 {
		p.flushPart()
	}
}

// paramsKey is the video track's current parameter sets, to notice a
// change that needs a new moov.
func (p *pathRec) paramsKey() string {
	t := p.tracks[p.ref]
	if t == nil || !t.video {
		return ""
	}
	var b bytes.Buffer
	switch f := t.src.Format.(type) {
	case *format.H264:
		sps, pps := f.SafeParams()
		b.Write(sps)
		b.WriteByte(0)
		b.Write(pps)
	case *format.H265:
		vps, sps, pps := f.SafeParams()
		b.Write(vps)
		b.WriteByte(0)
		b.Write(sps)
		b.WriteByte(0)
		b.Write(pps)
	}
	return b.String()
}

func (p *pathRec) setDevice(d Device) {
	p.device = d
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

func ticksToDur(ticks int64, rate uint32) time.Duration {
	r := int64(rate)
	return time.Duration(ticks/r)*time.Second + time.Duration(ticks%r)*time.Second/time.Duration(r)
}

func durToTicks(d time.Duration, rate uint32) int64 {
	s := int64(d / time.Second)
	return s*int64(rate) + int64(d%time.Second)*int64(rate)/int64(time.Second)
}
