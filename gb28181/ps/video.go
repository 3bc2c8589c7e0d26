package ps

import "bytes"

// Bounds of the video assembler.
const (
	maxLabels       = 16        // PES timestamps waiting for the unit they belong to
	maxSniffBuffer  = 256 << 10 // bytes gathered while the codec is still unknown
	defaultFrameDur = 3600      // 90 kHz ticks; 25 fps, the GB/T 28181 default
)

// label is the timestamp of a PES, at the offset in buf where its payload
// begins. ISO/IEC 13818-1 §2.4.3.7: the PTS belongs to the first access unit
// that starts in that PES.
type label struct {
	off      int
	pts, dts int64
}

// videoAsm cuts the PES payloads of one video stream into access units.
//
// Boundaries come from the NAL units themselves (H.264 §7.4.1.2.3, H.265
// §7.4.2.4.4): a unit ends before the access unit delimiter, parameter set,
// SEI or first slice that follows a picture. SEI and PPS only end a unit
// when a PES with a new timestamp is pending, so that encoders which put
// SEI after the slices do not get their pictures cut. Timestamps come from
// the PES headers: GB/T 28181 devices send one PES per frame, but ffmpeg
// packs several small frames into one 2048-byte PES and gives a PTS only
// to the first frame that starts in it; frames without one get the last
// timestamp plus the frame duration learnt from the stream.
type videoAsm struct {
	d     *Demuxer
	id    uint8
	codec Codec

	buf     []byte // buf[head:] is the unit being gathered and what follows it
	head    int
	scan    int  // offset in buf from which start codes are still to be looked at
	sniffed int  // bytes of buf already sniffed for the codec
	open    bool // buf[head] starts a unit
	seenVCL bool // that unit already has a slice

	ts      label // timestamp of the open unit
	hasTS   bool
	labels  []label
	pending bool // flush when the current PES ends

	// Timestamp guessing for units without a PES timestamp.
	last      label // timestamps of the last unit handed out
	hasLast   bool
	lastReal  label // last unit that had a timestamp of its own
	hasReal   bool
	sinceReal int // units handed out since lastReal
	dur       int64

	discont bool
	nalus   [][]byte
	au      VideoAU
}

func newVideoAsm(d *Demuxer, id uint8) *videoAsm {
	return &videoAsm{d: d, id: id, discont: true, dur: defaultFrameDur, labels: make([]label, 0, maxLabels)}
}

// pesStart is called for every PES header of this stream.
func (v *videoAsm) pesStart(hasPTS bool, pts, dts int64) {
	v.compact()
	if !hasPTS {
		return
	}
	if v.open && v.hasTS && pts == v.ts.pts && dts == v.ts.dts {
		return // more of the open unit (GB devices repeat the PTS on each PES)
	}
	if n := len(v.labels); n > 0 && v.labels[n-1].pts == pts && v.labels[n-1].dts == dts {
		return
	}
	if len(v.labels) == maxLabels {
		copy(v.labels, v.labels[1:])
		v.labels = v.labels[:maxLabels-1]
	}
	v.labels = append(v.labels, label{off: len(v.buf), pts: pts, dts: dts})
}

// compact moves the open unit to the front of buf.
func (v *videoAsm) compact() {
	if v.head == 0 {
		return
	}
	n := copy(v.buf, v.buf[v.head:])
	v.buf = v.buf[:n]
	v.scan = max(v.scan-v.head, 0)
	v.sniffed = max(v.sniffed-v.head, 0)
	for i := range v.labels {
		v.labels[i].off = max(v.labels[i].off-v.head, 0)
	}
	v.head = 0
}

// write appends a chunk of PES payload and hands out the units it completes.
func (v *videoAsm) write(p []byte) {
	v.compact()
	if len(v.buf)+len(p) > v.d.maxAU() {
		if v.open {
			v.d.stats.DroppedAUs++
		}
		v.discard()
		if len(p) > v.d.maxAU() {
			return
		}
	}
	v.buf = append(v.buf, p...)
	if v.codec == CodecUnknown {
		// Look only at what is new since the last try (and the last few
		// bytes before it), so that small writes stay linear.
		v.codec = sniffVideo(v.buf[max(v.sniffed-5, 0):])
		v.sniffed = len(v.buf)
		if v.codec == CodecUnknown {
			if len(v.buf) > maxSniffBuffer {
				v.d.stats.DroppedAUs++
				v.discard()
			}
			return
		}
	}
	v.scanNALs(false)
}

// discard forgets all gathered bytes; the next unit starts at the next NAL
// unit that can begin one.
func (v *videoAsm) discard() {
	v.buf = v.buf[:0]
	v.head, v.scan, v.sniffed = 0, 0, 0
	v.open, v.seenVCL, v.hasTS = false, false, false
	v.labels = v.labels[:0]
}

// scanNALs looks at every NAL unit header not yet seen. A header needs 3
// bytes to be judged; when final, fewer will do, as no more are coming.
func (v *videoAsm) scanNALs(final bool) {
	for {
		j := bytes.Index(v.buf[v.scan:], startCode3)
		if j < 0 {
			v.scan = max(v.scan, len(v.buf)-2)
			return
		}
		s := v.scan + j
		h := s + 3
		if len(v.buf)-h < 3 && !final {
			v.scan = s // judge it when more bytes are there
			return
		}
		if h >= len(v.buf) {
			v.scan = len(v.buf)
			return
		}
		v.scan = h
		v.nal(s, h)
	}
}

// nal handles the NAL unit whose start code is at s and header at h.
func (v *videoAsm) nal(s, h int) {
	hdr := v.buf[h:]
	start := auStart(v.codec, hdr)
	vcl := isVCL(v.codec, hdr[0])
	if !v.open {
		if !start {
			return // the middle of a unit cut by loss: wait for the next one
		}
		v.openAt(s, h)
	} else if start && v.seenVCL && (strongStart(v.codec, hdr) || v.labelBefore(h) >= 0) {
		v.emit(v.buf[v.head:s])
		v.openAt(s, h)
	}
	if vcl && !v.seenVCL {
		v.seenVCL = true
		// A PES with its own timestamp that starts with the picture
		// itself (parameter sets sent ahead with another PTS) names it.
		if i := v.labelBefore(h); i >= 0 {
			v.ts, v.hasTS = v.labels[i], true
			v.labels = v.labels[:copy(v.labels, v.labels[i+1:])]
		}
	}
}

// openAt starts a unit at start code s, taking the latest PES timestamp
// that began at or before its header h.
func (v *videoAsm) openAt(s, h int) {
	v.head, v.open, v.seenVCL, v.hasTS = s, true, false, false
	if i := v.labelBefore(h); i >= 0 {
		v.ts, v.hasTS = v.labels[i], true
		v.labels = v.labels[:copy(v.labels, v.labels[i+1:])]
	}
}

// labelBefore returns the index of the latest label at or before offset h,
// or -1.
func (v *videoAsm) labelBefore(h int) int {
	i := -1
	for k, l := range v.labels {
		if l.off <= h {
			i = k
		}
	}
	return i
}

// pesEnd is called when the current PES of this stream is complete.
func (v *videoAsm) pesEnd() {
	if v.pending {
		v.pending = false
		v.flush()
	}
}

// flush hands out the open unit: the RTP marker bit said it is complete.
func (v *videoAsm) flush() {
	if v.codec != CodecUnknown {
		v.scanNALs(true)
	}
	if v.open {
		v.emit(v.buf[v.head:])
	}
	v.buf = v.buf[:0]
	v.head, v.scan, v.sniffed = 0, 0, 0
	v.open, v.seenVCL, v.hasTS = false, false, false
	// Labels of PES whose payload is gone are of no use any more.
	v.labels = v.labels[:0]
}

// reset forgets the unit being gathered, which loss has cut.
func (v *videoAsm) reset() {
	if v.open {
		v.d.stats.DroppedAUs++
	}
	v.discard()
	v.pending = false
	v.discont = true
}

// emit splits a unit into NAL units and calls the video callback.
func (v *videoAsm) emit(buf []byte) {
	if len(buf) == 0 {
		return
	}
	ts, ok := v.timestamp()
	if !ok {
		v.d.stats.DroppedAUs++
		return
	}
	nalus, empty, ok := splitAnnexB(buf, v.nalus, v.d.maxNALUs())
	v.nalus = nalus[:0]
	v.d.stats.EmptyNALUs += uint64(empty)
	if !ok || len(nalus) == 0 {
		v.d.stats.DroppedAUs++
		return
	}
	v.d.stats.VideoAUs++
	v.au = VideoAU{
		StreamID:      v.id,
		Codec:         v.codec,
		PTS:           ts.pts,
		DTS:           ts.dts,
		NALUs:         nalus,
		Key:           isKey(v.codec, nalus),
		Discontinuity: v.discont,
	}
	v.discont = false
	if v.d.OnVideo != nil {
		v.d.OnVideo(&v.au)
	}
}

// timestamp gives the open unit's timestamps, guessing them from the last
// unit and the learnt frame duration when its PES carried none, and learns
// the duration from units that have their own.
func (v *videoAsm) timestamp() (label, bool) {
	if !v.hasTS {
		// No PES timestamp: the previous unit's plus one frame, or 0 for
		// a stream that never had any (GStreamer writes such PS from a raw
		// elementary stream).
		v.d.stats.GuessedPTS++
		if v.hasLast {
			v.last.pts += v.dur
			v.last.dts += v.dur
		}
		v.hasLast = true
		v.sinceReal++
		return v.last, true
	}
	ts := v.ts
	if v.hasReal {
		if d := (ts.dts - v.lastReal.dts) / int64(v.sinceReal+1); d > 0 && d <= 90000 {
			v.dur = d
		}
	}
	v.last, v.lastReal, v.hasLast, v.hasReal, v.sinceReal = ts, ts, true, true, 0
	return ts, true
}

// isVCL tells whether a NAL unit carries picture data.
func isVCL(c Codec, h0 byte) bool {
	if c == CodecH264 {
		t := h0 & 0x1F
		return t >= 1 && t <= 5
	}
	return h0>>1&0x3F <= 31
}

// strongStart tells whether a NAL unit begins an access unit even when no
// new PES timestamp says so: an access unit delimiter, a sequence or video
// parameter set, or the first slice of a picture.
func strongStart(c Codec, h []byte) bool {
	if c == CodecH264 {
		switch h[0] & 0x1F {
		case 7, 9:
			return true
		case 1, 5:
			return h[1]&0x80 != 0
		}
		return false
	}
	switch t := h[0] >> 1 & 0x3F; {
	case t == 32 || t == 33 || t == 35:
		return true
	case t <= 31:
		return h[2]&0x80 != 0
	}
	return false
}
