package ps

import "github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

// maxAudioBuffer bounds the bytes an audio stream keeps between PES packets:
// a whole ADTS frame is at most 8191 bytes (13-bit frame_length).
const maxAudioBuffer = 64 << 10

var adtsSampleRates = [16]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// audioAsm cuts the PES payloads of one audio stream into frames. ADTS
// frames may straddle PES packets (ffmpeg does that), so bytes are kept
// until a frame is whole; each frame gets the PTS of the PES it starts in,
// or the previous frame's PTS plus its duration (ISO/IEC 13818-1 §2.4.3.7).
type audioAsm struct {
	d     *Demuxer
	id    uint8
	codec Codec

	buf     []byte
	pesOff  int // where the payload of the latest PES with a PTS begins in buf
	pesPTS  int64
	hasPES  bool // pesPTS not yet given to a frame
	nextPTS int64
	hasNext bool

	discont bool
	frame   AudioFrame
}

func newAudioAsm(d *Demuxer, id uint8) *audioAsm {
	return &audioAsm{d: d, id: id, discont: true}
}

func (a *audioAsm) pesStart(hasPTS bool, pts int64) {
	if hasPTS {
		a.pesOff, a.pesPTS, a.hasPES = len(a.buf), pts, true
	}
}

func (a *audioAsm) write(p []byte) {
	if len(a.buf)+len(p) > maxAudioBuffer {
		a.d.stats.DroppedAudio += uint64(len(a.buf) + len(p))
		a.buf = a.buf[:0]
		a.hasPES, a.hasNext = false, false
		return
	}
	a.buf = append(a.buf, p...)
}

func (a *audioAsm) pesEnd() {
	if a.codec == CodecUnknown {
		switch {
		case isADTS(a.buf):
			a.codec = CodecAAC
		case a.d.DefaultAudio.IsAudio():
			a.codec = a.d.DefaultAudio
		default:
			a.d.stats.DroppedPES++
			a.buf = a.buf[:0]
			a.hasPES = false
			return
		}
	}
	if a.codec == CodecAAC {
		a.adts()
		return
	}
	// G.711: a PES payload is a run of 8 kHz samples, one byte each.
	if len(a.buf) > 0 {
		if pts, ok := a.ptsAt(0); ok {
			a.out(pts, a.buf, 8000, 1, len(a.buf), 0)
			a.advance(pts, len(a.buf), 8000)
		} else {
			a.d.stats.DroppedAudio += uint64(len(a.buf))
		}
	}
	a.buf = a.buf[:0]
	a.hasPES = false
}

// ptsAt gives the PTS of a frame that starts at offset off in buf.
func (a *audioAsm) ptsAt(off int) (int64, bool) {
	if a.hasPES && off >= a.pesOff {
		a.hasPES = false
		return a.pesPTS, true
	}
	return a.nextPTS, a.hasNext
}

func (a *audioAsm) advance(pts int64, samples, rate int) {
	a.nextPTS, a.hasNext = pts+int64(samples)*90000/int64(rate), true
}

// adts hands out the whole ADTS frames in buf (ISO/IEC 13818-7 §6.2,
// Table 5: adts_fixed_header and adts_variable_header).
func (a *audioAsm) adts() {
	b := a.buf
	off := 0
	for len(b)-off >= 7 {
		h := b[off:]
		if !isADTS(h) {
			off++
			a.d.stats.DroppedAudio++
			continue
		}
		hdr := 7
		if h[1]&1 == 0 {
			hdr = 9 // CRC present
		}
		flen := int(h[3]&3)<<11 | int(h[4])<<3 | int(h[5]>>5)
		rate := adtsSampleRates[h[2]>>2&0x0F]
		if flen <= hdr || rate == 0 {
			off++
			a.d.stats.DroppedAudio++
			continue
		}
		if len(h) < flen {
			break // the rest comes in the next PES
		}
		samples := 1024 * (int(h[6]&3) + 1)
		channels := int(h[2]&1)<<2 | int(h[3]>>6)
		if channels == 7 {
			channels = 8
		}
		if pts, ok := a.ptsAt(off); ok {
			a.out(pts, h[hdr:flen], rate, channels, samples, mpeg4audio.ObjectType(h[2]>>6+1))
			a.advance(pts, samples, rate)
		} else {
			a.d.stats.DroppedAudio += uint64(flen)
		}
		off += flen
	}
	n := copy(a.buf, a.buf[off:])
	a.buf = a.buf[:n]
	if a.hasPES {
		a.pesOff = max(a.pesOff-off, 0)
	}
}

func (a *audioAsm) out(pts int64, data []byte, rate, channels, samples int, typ mpeg4audio.ObjectType) {
	a.d.stats.AudioFrames++
	a.frame = AudioFrame{
		StreamID:      a.id,
		Codec:         a.codec,
		PTS:           pts,
		Data:          data,
		SampleRate:    rate,
		Channels:      channels,
		Samples:       samples,
		AACType:       typ,
		Discontinuity: a.discont,
	}
	a.discont = false
	if a.d.OnAudio != nil {
		a.d.OnAudio(&a.frame)
	}
}

func (a *audioAsm) reset() {
	a.d.stats.DroppedAudio += uint64(len(a.buf))
	a.buf = a.buf[:0]
	a.hasPES, a.hasNext = false, false
	a.discont = true
}
