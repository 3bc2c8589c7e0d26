package ps

import "bytes"

// Limits the demuxer applies unless its fields say otherwise.
const (
	DefaultMaxAUSize = 8 << 20 // bytes of one video access unit
	DefaultMaxNALUs  = 128     // NAL units in one video access unit
	maxPSMEntries    = 32
	maxZeroStuffing  = 1 << 16
)

type state uint8

const (
	stSync        state = iota // looking for 0x000001BA
	stTop                      // at the next start code
	stPayload                  // inside a PES payload of known length
	stPayloadOpen              // inside a PES with PES_packet_length 0: up to the next start code
	stSkip                     // skipping the rest of a unit we do not use
)

// Demuxer turns MPEG-PS bytes into access units. The zero value is ready
// to use; set the callbacks before the first Write. A Demuxer is not safe
// for concurrent use.
type Demuxer struct {
	// OnVideo receives each video access unit. The unit and its NAL units
	// are reused after the callback returns.
	OnVideo func(au *VideoAU)
	// OnAudio receives each audio frame, reused after the callback returns.
	OnAudio func(f *AudioFrame)
	// DefaultAudio is the codec assumed for an audio stream that neither a
	// program stream map names nor ADTS framing identifies, e.g. CodecG711A
	// when the SDP negotiated PCMA with a device that sends no PSM. When
	// zero such streams are dropped.
	DefaultAudio Codec
	// MaxAUSize and MaxNALUs bound a video access unit (defaults
	// DefaultMaxAUSize, DefaultMaxNALUs); larger units are dropped.
	MaxAUSize int
	MaxNALUs  int

	stats  Stats
	state  state
	remain int   // bytes left in stPayload or stSkip
	cur    uint8 // stream_id of the PES being read
	zeros  int   // zero stuffing bytes seen in a row at stTop
	need   int   // bytes the held-back header needs, when known

	in  []byte // bytes held back: an incomplete header or a possible start code
	psm []psmEntry
	ts  unwrapper

	video [16]*videoAsm
	audio [32]*audioAsm
}

// Stats returns the counters so far.
func (d *Demuxer) Stats() Stats { return d.stats }

func (d *Demuxer) maxAU() int {
	if d.MaxAUSize > 0 {
		return d.MaxAUSize
	}
	return DefaultMaxAUSize
}

func (d *Demuxer) maxNALUs() int {
	if d.MaxNALUs > 0 {
		return d.MaxNALUs
	}
	return DefaultMaxNALUs
}

// Write consumes PS bytes; p may be cut anywhere. Write never fails: what it
// cannot parse it counts and skips. It never keeps p.
func (d *Demuxer) Write(p []byte) {
	d.stats.Bytes += uint64(len(p))
	// A header still short of what it needs: wait without parsing it
	// again, so that data trickling in byte by byte stays linear.
	if len(d.in) > 0 && len(d.in)+len(p) < d.need {
		d.in = append(d.in, p...)
		return
	}
	// Finish the header held back from the last call first, adding only
	// as much of p as a header can need.
	for len(d.in) > 0 && len(p) > 0 {
		old := len(d.in)
		take := min(len(p), maxHeader)
		d.in = append(d.in, p[:take]...)
		n := d.parse(d.in)
		if n >= old {
			d.in = d.in[:0]
			p = p[n-old:]
			break
		}
		d.in = d.in[:copy(d.in, d.in[n:])]
		p = p[take:]
	}
	if len(p) > 0 {
		n := d.parse(p)
		d.in = append(d.in, p[n:]...)
	}
}

// Flush ends the video access unit being gathered, as when the RTP marker
// bit says a frame is complete. If a PES is still incomplete, the unit is
// handed out as soon as that PES ends.
func (d *Demuxer) Flush() {
	if d.state == stPayloadOpen {
		// A PES without a length ends where the sender says the frame does.
		d.sink(d.in)
		d.in = d.in[:0]
		d.endPES()
	}
	for _, v := range d.video {
		if v == nil {
			continue
		}
		if (d.state == stPayload || d.state == stPayloadOpen) && d.cur == v.id {
			v.pending = true
			continue
		}
		v.flush()
	}
}

// Reset forgets everything gathered but not handed out, and resynchronises
// on the next pack header: what the RTP layer does on packet loss. The
// codecs learnt from the program stream map or by sniffing are kept, and
// the next unit of every stream is flagged as a discontinuity.
func (d *Demuxer) Reset() {
	d.resync()
	d.stats.GarbageBytes += uint64(len(d.in))
	d.in = d.in[:0]
	d.stats.Discontinuity++
	for _, v := range d.video {
		if v != nil {
			v.reset()
		}
	}
	for _, a := range d.audio {
		if a != nil {
			a.reset()
		}
	}
}

func (d *Demuxer) resync() {
	d.stats.Resyncs++
	d.state = stSync
	d.remain = 0
	d.zeros = 0
	d.need = 0
}

// parse consumes what it can of b and returns how many bytes it used. It
// stops short only when a header is incomplete (fewer than maxHeader
// bytes) or a start code may straddle the end of b (at most 3 bytes).
func (d *Demuxer) parse(b []byte) int {
	i := 0
	for i < len(b) {
		switch d.state {
		case stSync:
			j := bytes.Index(b[i:], packStartCode)
			if j < 0 {
				n := max(len(b)-i-3, 0)
				d.stats.GarbageBytes += uint64(n)
				return i + n
			}
			d.stats.GarbageBytes += uint64(j)
			i += j
			d.state = stTop
		case stTop:
			d.need = 0
			n, more := d.top(b[i:])
			if more {
				return i
			}
			i += n
		case stPayload:
			n := min(d.remain, len(b)-i)
			d.sink(b[i : i+n])
			i += n
			d.remain -= n
			if d.remain == 0 {
				d.endPES()
			}
		case stPayloadOpen:
			n, end := openPayloadLen(b[i:])
			d.sink(b[i : i+n])
			i += n
			if end {
				d.endPES()
			} else if n == 0 {
				return i // a start code may straddle: wait for more
			}
		case stSkip:
			n := min(d.remain, len(b)-i)
			d.stats.SkippedBytes += uint64(n)
			i += n
			d.remain -= n
			if d.remain == 0 {
				d.state = stTop
			}
		}
	}
	return i
}

// openPayloadLen returns how much of b belongs to an unbounded PES: up to
// the next system start code (end=true), or all but a possible partial
// start code at the end of b.
func openPayloadLen(b []byte) (n int, end bool) {
	from := 0
	for {
		j := bytes.Index(b[from:], startCode3)
		if j < 0 {
			return max(len(b)-2, 0), false
		}
		p := from + j
		if p+3 >= len(b) {
			return p, false
		}
		if isSystemID(b[p+3]) {
			return p, true
		}
		from = p + 3
	}
}

// top parses the unit that starts at b[0]. more is true when b is too
// short to finish the header.
func (d *Demuxer) top(b []byte) (n int, more bool) {
	if len(b) < 4 {
		return 0, true
	}
	if b[0] != 0 || b[1] != 0 || b[2] != 1 {
		// Zero bytes between units are tolerated (some devices pad);
		// anything else means we lost sync.
		if b[0] == 0 && b[1] == 0 && b[2] == 0 && d.zeros < maxZeroStuffing {
			d.zeros++
			d.stats.SkippedBytes++
			return 1, false
		}
		d.resync()
		return 0, false
	}
	d.zeros = 0
	id := b[3]
	switch {
	case id == idPack:
		n, need, ok := packHeaderLen(b)
		if !ok {
			d.resync()
			d.stats.GarbageBytes += 4
			return 4, false
		}
		if need > 0 {
			d.need = need
			return 0, true
		}
		d.stats.Packs++
		return n, false
	case id == idProgramEnd:
		return 4, false
	case id < idProgramEnd:
		d.resync()
		return 0, false
	}
	if len(b) < 6 {
		return 0, true
	}
	length := be16(b[4:6])
	switch {
	case id == idPSM:
		if length > maxPSM {
			return d.skip(length), false
		}
		if len(b) < 6+length {
			d.need = 6 + length
			return 0, true
		}
		d.onPSM(b[6 : 6+length])
		return 6 + length, false
	case isVideoID(id) || isAudioID(id):
		h, need, ok := parsePESHeader(b)
		if !ok {
			d.stats.DroppedPES++
			return d.skip(length), false
		}
		if need > 0 {
			if length != 0 && need > 6+length {
				d.stats.DroppedPES++
				return d.skip(length), false
			}
			d.need = need
			return 0, true
		}
		d.startPES(id, &h)
		return h.hdrLen, false
	default:
		// system header, private streams (Hikvision puts its own data in
		// 0xBD), padding, ECM/EMM, DSM-CC, directory...
		return d.skip(length), false
	}
}

// skip consumes the 6-byte header of a unit and skips its length bytes.
func (d *Demuxer) skip(length int) int {
	d.stats.SkippedBytes += 6
	if length > 0 {
		d.state, d.remain = stSkip, length
	}
	return 6
}

func (d *Demuxer) onPSM(body []byte) {
	if cap(d.psm) == 0 {
		d.psm = make([]psmEntry, 0, maxPSMEntries)
	}
	d.psm = parsePSM(body, d.psm)
	d.stats.PSMs++
	for _, e := range d.psm {
		c := CodecForStreamType(e.streamType)
		switch {
		case isVideoID(e.streamID):
			v := d.videoFor(e.streamID)
			if c.IsVideo() && c != v.codec {
				v.flush()
				v.codec = c
			}
		case isAudioID(e.streamID):
			a := d.audioFor(e.streamID)
			if c.IsAudio() && c != a.codec {
				a.buf = a.buf[:0]
				a.codec = c
			}
		}
	}
}

func (d *Demuxer) videoFor(id uint8) *videoAsm {
	v := d.video[id-idVideoFirst]
	if v == nil {
		v = newVideoAsm(d, id)
		d.video[id-idVideoFirst] = v
	}
	return v
}

func (d *Demuxer) audioFor(id uint8) *audioAsm {
	a := d.audio[id-idAudioFirst]
	if a == nil {
		a = newAudioAsm(d, id)
		d.audio[id-idAudioFirst] = a
	}
	return a
}

func (d *Demuxer) startPES(id uint8, h *pesHeader) {
	d.stats.PES++
	if h.scrambled {
		d.stats.DroppedPES++
		d.state, d.remain = stSkip, max(h.payload, 0)
		if h.payload < 0 {
			d.state = stSync // cannot tell where it ends
			d.stats.Resyncs++
		}
		return
	}
	var pts, dts int64
	if h.hasPTS {
		pts = d.ts.unwrap(h.pts)
		dts = pts
		if h.hasDTS {
			dd := (h.dts - h.pts) & tsMask
			if dd >= tsHalf {
				dd -= 1 << tsBits
			}
			dts = pts + dd
		}
	}
	d.cur = id
	if isVideoID(id) {
		d.videoFor(id).pesStart(h.hasPTS, pts, dts)
	} else {
		d.audioFor(id).pesStart(h.hasPTS, pts)
	}
	switch {
	case h.payload < 0:
		d.state = stPayloadOpen
	case h.payload == 0:
		d.endPES()
	default:
		d.state, d.remain = stPayload, h.payload
	}
}

func (d *Demuxer) sink(p []byte) {
	if len(p) == 0 {
		return
	}
	if isVideoID(d.cur) {
		d.videoFor(d.cur).write(p)
	} else {
		d.audioFor(d.cur).write(p)
	}
}

func (d *Demuxer) endPES() {
	d.state = stTop
	if isVideoID(d.cur) {
		d.videoFor(d.cur).pesEnd()
	} else {
		d.audioFor(d.cur).pesEnd()
	}
}
