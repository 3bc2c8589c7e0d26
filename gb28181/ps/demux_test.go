package ps

import (
	"bytes"
	"testing"
)

// Hand-made PS pieces for the table tests.

func pack2(stuffing int) []byte {
	b := []byte{0, 0, 1, 0xBA, 0x44, 0, 4, 0, 4, 1, 0x01, 0x89, 0xC3, 0xF8 | byte(stuffing)}
	return append(b, bytes.Repeat([]byte{0xFF}, stuffing)...)
}

func pack1() []byte { return []byte{0, 0, 1, 0xBA, 0x21, 0, 1, 0, 1, 0x80, 0, 1} }

func pes(id byte, pts int64, data []byte) []byte {
	hdl := 0
	if pts >= 0 {
		hdl = 5
	}
	n := 3 + hdl + len(data)
	b := []byte{0, 0, 1, id, byte(n >> 8), byte(n), 0x80, 0, byte(hdl)}
	if pts >= 0 {
		b[7] = 0x80
		b = append(b, 0, 0, 0, 0, 0)
		putTimestamp(b[9:], 2, pts)
	}
	return append(b, data...)
}

// openPES is a video PES header with PES_packet_length 0.
func openPES(pts int64) []byte {
	b := []byte{0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 5, 0, 0, 0, 0, 0}
	putTimestamp(b[9:], 2, pts)
	return b
}

func rawUnit(id byte, body []byte) []byte {
	return append([]byte{0, 0, 1, id, byte(len(body) >> 8), byte(len(body))}, body...)
}

// psm makes a program stream map with one descriptor per entry.
func psm(entries ...byte) []byte {
	body := []byte{0xE0, 0xFF, 0, 6, 0x05, 0x04, 'H', 'D', 'M', 'V'} // program descriptor
	var es []byte
	for i := 0; i+1 < len(entries); i += 2 {
		es = append(es, entries[i], entries[i+1], 0, 3, 0x0A, 0x01, 0x00)
	}
	body = append(body, byte(len(es)>>8), byte(len(es)))
	body = append(body, es...)
	body = append(body, 0xDE, 0xAD, 0xBE, 0xEF) // wrong CRC: devices send those
	return rawUnit(0xBC, body)
}

var (
	idr264 = []byte{0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x1F, 0, 0, 0, 1, 0x68, 0xCE, 0x3C, 0x80, 0, 0, 1, 0x65, 0x88, 0x84, 0x21}
	p264   = []byte{0, 0, 0, 1, 0x41, 0x9A, 0x21, 0x33}
	idr265 = []byte{0, 0, 0, 1, 0x40, 0x01, 0x0C, 0, 0, 1, 0x42, 0x01, 0x01, 0, 0, 1, 0x44, 0x01, 0xC1, 0, 0, 1, 0x26, 0x01, 0xAF, 0x11}
	p265   = []byte{0, 0, 1, 0x02, 0x01, 0xD0, 0x22}
	adts   = []byte{0xFF, 0xF1, 0x50, 0x80, 0x01, 0x7F, 0xFC, 1, 2, 3, 4} // 44.1 kHz stereo, 11 bytes
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

type want struct {
	video, audio int
	codec        Codec
	firstPTS     int64
}

func TestDemuxTable(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		want  want
		check func(t *testing.T, c *collector, st Stats)
	}{
		{
			name: "GB: pack, PSM, one PES per frame",
			in:   cat(pack2(0), psm(0x1B, 0xE0), pes(0xE0, 3600, idr264), pack2(0), pes(0xE0, 7200, p264)),
			want: want{2, 0, CodecH264, 3600},
		},
		{
			name: "pack stuffing is skipped",
			in:   cat(pack2(7), pes(0xE0, 0, idr264), pack2(3), pes(0xE0, 3600, p264)),
			want: want{2, 0, CodecH264, 0},
		},
		{
			name: "MPEG-1 pack header",
			in:   cat(pack1(), pes(0xE0, 10, idr264), pack1(), pes(0xE0, 3610, p264)),
			want: want{2, 0, CodecH264, 10},
		},
		{
			name: "no PSM: H.265 sniffed on stream 0xE2",
			in:   cat(pack2(0), pes(0xE2, 0, idr265), pack2(0), pes(0xE2, 3600, p265)),
			want: want{2, 0, CodecH265, 0},
		},
		{
			name: "PSM says H.265",
			in:   cat(pack2(0), psm(0x24, 0xE0, 0x90, 0xC0), pes(0xE0, 0, idr265), pes(0xC0, 0, []byte{1, 2, 3}), pack2(0), pes(0xE0, 3600, p265)),
			want: want{2, 1, CodecH265, 0},
			check: func(t *testing.T, c *collector, st Stats) {
				if c.audio[0].Codec != CodecG711A || len(c.audio[0].Data) != 3 {
					t.Fatalf("audio %+v", c.audio[0])
				}
			},
		},
		{
			name: "system header, private streams, padding and program end are skipped",
			in: cat(pack2(0), rawUnit(0xBB, make([]byte, 12)), rawUnit(0xBD, []byte("hik private")), pes(0xE0, 0, idr264),
				rawUnit(0xBE, bytes.Repeat([]byte{0xFF}, 40)), rawUnit(0xBF, []byte{1}), rawUnit(0xF0, []byte{1, 2}), rawUnit(0xFF, nil),
				pack2(0), pes(0xE0, 3600, p264), []byte{0, 0, 1, 0xB9}),
			want: want{2, 0, CodecH264, 0},
			check: func(t *testing.T, c *collector, st Stats) {
				if st.SkippedBytes != 18+17+46+7+8+6 || st.GarbageBytes != 0 {
					t.Fatalf("stats %+v", st)
				}
			},
		},
		{
			name: "garbage before and between packs: resync on the next pack header",
			in:   cat([]byte("garbage\x00\x00\x01\xE0"), pack2(0), pes(0xE0, 0, idr264), []byte{1, 2, 3, 0, 0, 1, 0x42}, pack2(0), pes(0xE0, 3600, p264)),
			want: want{2, 0, CodecH264, 0},
			check: func(t *testing.T, c *collector, st Stats) {
				if st.GarbageBytes != 11+7 || st.Resyncs != 1 {
					t.Fatalf("stats %+v", st)
				}
			},
		},
		{
			name: "zero stuffing between PES is tolerated",
			in:   cat(pack2(0), pes(0xE0, 0, idr264), []byte{0, 0, 0, 0}, pes(0xE0, 3600, p264)),
			want: want{2, 0, CodecH264, 0},
		},
		{
			name: "one frame over several PES, PTS repeated on each",
			in:   cat(pack2(0), pes(0xE0, 0, idr264[:9]), pes(0xE0, 0, idr264[9:17]), pes(0xE0, 0, idr264[17:]), pack2(0), pes(0xE0, 3600, p264)),
			want: want{2, 0, CodecH264, 0},
			check: func(t *testing.T, c *collector, st Stats) {
				if len(c.video[0].NALUs) != 3 {
					t.Fatalf("first unit has %d NAL units", len(c.video[0].NALUs))
				}
			},
		},
		{
			name: "one frame over several PES, PTS only on the first",
			in:   cat(pack2(0), pes(0xE0, 0, idr264[:9]), pes(0xE0, -1, idr264[9:]), pes(0xE0, 3600, p264), pes(0xE0, -1, p264)),
			want: want{3, 0, CodecH264, 0},
			check: func(t *testing.T, c *collector, st Stats) {
				if c.video[2].PTS != 7200 || st.GuessedPTS != 1 {
					t.Fatalf("third unit PTS %d, stats %+v", c.video[2].PTS, st)
				}
			},
		},
		{
			name: "parameter sets in their own PES with another PTS",
			in:   cat(pack2(0), pes(0xE0, 1, idr264[:16]), pes(0xE0, 3600, idr264[16:]), pes(0xE0, 7200, p264)),
			want: want{2, 0, CodecH264, 3600},
		},
		{
			name: "PES_packet_length 0 runs to the next start code",
			in:   cat(pack2(0), openPES(0), idr264, pack2(0), openPES(7200), p264),
			want: want{2, 0, CodecH264, 0},
			check: func(t *testing.T, c *collector, st Stats) {
				if c.video[1].PTS != 7200 {
					t.Fatalf("PTS %d", c.video[1].PTS)
				}
			},
		},
		{
			name: "scrambled PES dropped",
			in:   cat(pack2(0), pes(0xE0, 0, idr264), func() []byte { b := pes(0xE0, 3600, p264); b[6] |= 0x10; return b }()),
			want: want{1, 0, CodecH264, 0},
			check: func(t *testing.T, c *collector, st Stats) {
				if st.DroppedPES != 1 {
					t.Fatalf("stats %+v", st)
				}
			},
		},
		{
			name: "PES header longer than the PES",
			in:   cat(pack2(0), []byte{0, 0, 1, 0xE0, 0, 4, 0x80, 0x80, 5, 1, 1, 1, 1, 1}, pack2(0), pes(0xE0, 0, idr264)),
			want: want{1, 0, CodecH264, 0},
		},
		{
			name: "empty NAL units removed",
			in:   cat(pack2(0), pes(0xE0, 0, cat(idr264[:8], []byte{0, 0, 1, 0, 0, 1}, idr264[8:], []byte{0, 0, 0, 1}))),
			want: want{1, 0, CodecH264, 0},
			check: func(t *testing.T, c *collector, st Stats) {
				if len(c.video[0].NALUs) != 3 || st.EmptyNALUs != 3 {
					t.Fatalf("%d NAL units, stats %+v", len(c.video[0].NALUs), st)
				}
			},
		},
		{
			name: "ADTS without PSM, two frames in one PES, one straddling",
			in:   cat(pack2(0), pes(0xC0, 900, cat(adts, adts, adts[:4])), pack2(0), pes(0xC0, 5000, cat(adts[4:], adts))),
			want: want{0, 4, CodecUnknown, 0},
			check: func(t *testing.T, c *collector, st Stats) {
				step := int64(1024 * 90000 / 44100)
				for i, pts := range []int64{900, 900 + step, 900 + 2*step, 5000} {
					if c.audio[i].PTS != pts || c.audio[i].Codec != CodecAAC || !bytes.Equal(c.audio[i].Data, adts[7:]) {
						t.Fatalf("frame %d: %+v", i, c.audio[i])
					}
				}
			},
		},
		{
			name: "audio without PSM that is not ADTS is dropped",
			in:   cat(pack2(0), pes(0xC0, 0, []byte{0xD5, 0xD5, 0xD5})),
			want: want{0, 0, CodecUnknown, 0},
			check: func(t *testing.T, c *collector, st Stats) {
				if st.DroppedPES != 1 {
					t.Fatalf("stats %+v", st)
				}
			},
		},
		{
			name: "unsupported video type in PSM: sniffed instead",
			in:   cat(pack2(0), psm(0x10, 0xE0), pes(0xE0, 0, idr264)),
			want: want{1, 0, CodecH264, 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, step := range []int{0, 1, 2, 5} {
				c, st := demuxAll(tc.in, step)
				if len(c.video) != tc.want.video || len(c.audio) != tc.want.audio {
					t.Fatalf("step %d: %d video %d audio, want %d %d (stats %+v)", step, len(c.video), len(c.audio), tc.want.video, tc.want.audio, st)
				}
				if tc.want.video > 0 {
					if c.video[0].Codec != tc.want.codec || c.video[0].PTS != tc.want.firstPTS || !c.video[0].Key {
						t.Fatalf("step %d: first unit %v PTS %d key %v", step, c.video[0].Codec, c.video[0].PTS, c.video[0].Key)
					}
				}
				if tc.check != nil {
					tc.check(t, c, st)
				}
			}
		})
	}
}

func TestDemuxLimits(t *testing.T) {
	big := cat([]byte{0, 0, 1, 0x65, 0x88}, bytes.Repeat([]byte{0x11}, 5000))
	var in []byte
	m := &Muxer{Video: CodecH264, MaxPESPayload: 1000}
	in, _ = m.AppendVideo(in, 0, 0, [][]byte{big[3:]}, true)
	in, _ = m.AppendVideo(in, 3600, 3600, [][]byte{{0x41, 0x9A, 1}}, false)
	c := &collector{}
	d := c.demuxer()
	d.MaxAUSize = 4000
	d.Write(in)
	d.Flush()
	if len(c.video) != 1 || c.video[0].PTS != 3600 || d.Stats().DroppedAUs != 1 {
		t.Fatalf("%d units, stats %+v", len(c.video), d.Stats())
	}

	many := cat([]byte{0, 0, 1, 0x41, 0x9A, 1}, bytes.Repeat([]byte{0, 0, 1, 0x41, 0x1A, 1}, 19)) // slices of one picture
	c = &collector{}
	d = c.demuxer()
	d.MaxNALUs = 10
	d.Write(cat(pack2(0), pes(0xE0, 0, idr264), pes(0xE0, 3600, many)))
	d.Flush()
	if len(c.video) != 1 || d.Stats().DroppedAUs != 1 {
		t.Fatalf("%d units, stats %+v", len(c.video), d.Stats())
	}
}

func TestDemuxFlushAndReset(t *testing.T) {
	c := &collector{}
	d := c.demuxer()
	d.Write(cat(pack2(0), pes(0xE0, 0, idr264)))
	if len(c.video) != 0 {
		t.Fatal("unit handed out before its end was known")
	}
	d.Flush()
	if len(c.video) != 1 {
		t.Fatal("Flush did not hand out the unit")
	}
	// A flush in the middle of a PES waits for the PES to end.
	frame := cat(pack2(0), pes(0xE0, 3600, p264))
	d.Write(frame[:len(frame)-2])
	d.Flush()
	if len(c.video) != 1 {
		t.Fatal("unit cut in the middle of a PES")
	}
	d.Write(frame[len(frame)-2:])
	if len(c.video) != 2 || !bytes.Equal(c.video[1].NALUs[0], p264[4:]) {
		t.Fatalf("%d units", len(c.video))
	}
	// Reset drops the half-read frame and waits for the next pack header.
	d.Write(cat(pack2(0), pes(0xE0, 7200, p264))[:20])
	d.Reset()
	d.Write(pes(0xE0, 10800, p264)) // no pack header: ignored
	d.Write(cat(pack2(0), pes(0xE0, 14400, p264)))
	d.Flush()
	if len(c.video) != 3 || c.video[2].PTS != 14400 || !c.video[2].Discontinuity {
		t.Fatalf("%d units; stats %+v", len(c.video), d.Stats())
	}
}

func TestTimestampCodec(t *testing.T) {
	for _, ts := range []int64{0, 1, 90000, 1<<32 + 5, 1<<33 - 1} {
		var b [5]byte
		putTimestamp(b[:], 2, ts)
		if got := readTimestamp(b[:]); got != ts {
			t.Fatalf("%d -> %d", ts, got)
		}
	}
	var u unwrapper
	for i, c := range []struct{ in, out int64 }{{1<<33 - 10, 1<<33 - 10}, {5, 1<<33 + 5}, {1<<33 - 20, 1<<33 - 20}, {100, 1<<33 + 100}} {
		if got := u.unwrap(c.in); got != c.out {
			t.Fatalf("%d: %d -> %d, want %d", i, c.in, got, c.out)
		}
	}
}

func TestSniff(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		want Codec
	}{
		{idr264, CodecH264},
		{p264, CodecH264},
		{idr265, CodecH265},
		{p265, CodecH265},
		{[]byte{0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x67, 0x64}, CodecH264},
		{[]byte{0, 0, 1, 0x46, 0x01, 0x50, 0, 0, 1, 0x40, 0x01}, CodecH265},
		{[]byte{0, 0, 1, 0xF5, 0x01, 0x01}, CodecUnknown},
		{[]byte("no start code"), CodecUnknown},
	} {
		if got := sniffVideo(c.in); got != c.want {
			t.Errorf("%x: %v, want %v", c.in, got, c.want)
		}
	}
}
