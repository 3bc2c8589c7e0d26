package record

import (
	"bytes"
	"errors"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
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
	p.reader = &gateway.Reader{Protocol: ReaderProtocol, SkipRTP: true, SkipBytes: true, QueueSize: r.QueueSize,
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
	if f.Unit.Discontinuity && t.hasLast {
		// The publisher's clock jumped: the core rebased it, so the
		// timestamps run on, but the media is not continuous.
		p.r.metrics.jumps.Add(1)
		p.closeSegment("timestamp jump", true)
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

func ticksToDur(ticks int64, rate uint32) time.Duration {
	r := int64(rate)
	return time.Duration(ticks/r)*time.Second + time.Duration(ticks%r)*time.Second/time.Duration(r)
}

func durToTicks(d time.Duration, rate uint32) int64 {
	s := int64(d / time.Second)
	return s*int64(rate) + int64(d%time.Second)*int64(rate)/int64(time.Second)
}
