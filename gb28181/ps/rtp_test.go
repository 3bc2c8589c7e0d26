package ps

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// rtpPacket makes an RTP packet (RFC 3550 §5.1) with PT 96.
func rtpPacket(seq uint16, marker bool, ssrc uint32, payload []byte) []byte {
	b := []byte{0x80, 96, byte(seq >> 8), byte(seq), 0, 0, 0, 0, byte(ssrc >> 24), byte(ssrc >> 16), byte(ssrc >> 8), byte(ssrc)}
	if marker {
		b[1] |= 0x80
	}
	return append(b, payload...)
}

// psOverRTP muxes n fake H.264 frames and cuts each into RTP packets of at
// most 1400 bytes, the marker bit on the last packet of a frame.
func psOverRTP(t testing.TB, n int, seq0 uint16) (pkts [][]byte, aus [][][]byte) {
	aus = fakeGOP(CodecH264, n, 7)
	m := &Muxer{Video: CodecH264}
	seq := seq0
	for i, au := range aus {
		ps, err := m.AppendVideo(nil, int64(i)*3600, int64(i)*3600, au, i == 0)
		if err != nil {
			t.Fatal(err)
		}
		for len(ps) > 0 {
			k := min(len(ps), 1400)
			pkts = append(pkts, rtpPacket(seq, k == len(ps), 0x01020304, ps[:k]))
			ps = ps[k:]
			seq++
		}
	}
	return pkts, aus
}

func receive(t *testing.T, r *RTPReceiver, pkts [][]byte) *collector {
	t.Helper()
	c := &collector{}
	r.Demuxer = c.demuxer()
	for _, p := range pkts {
		if err := r.WriteRTP(p); err != nil {
			t.Fatal(err)
		}
	}
	r.Flush()
	return c
}

func TestRTPInOrder(t *testing.T) {
	pkts, aus := psOverRTP(t, 20, 65500) // wraps the sequence number
	c := receive(t, &RTPReceiver{}, pkts)
	if len(c.video) != 20 {
		t.Fatalf("%d units", len(c.video))
	}
	for i := range aus {
		if err := equalAU(c.video[i].NALUs, aus[i]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRTPMarkerFlushes checks that a unit is handed out with the packet
// that carries the marker bit, not one frame later.
func TestRTPMarkerFlushes(t *testing.T) {
	pkts, _ := psOverRTP(t, 3, 0)
	c := &collector{}
	r := &RTPReceiver{Demuxer: c.demuxer()}
	for _, p := range pkts {
		_ = r.WriteRTP(p)
	}
	if len(c.video) != 3 {
		t.Fatalf("%d units before Flush", len(c.video))
	}
}

func TestRTPReorder(t *testing.T) {
	pkts, aus := psOverRTP(t, 20, 100)
	shuffled := append([][]byte(nil), pkts...)
	for i := 1; i+4 < len(shuffled); i += 5 { // reverse groups of 5 (the first packet is the first)
		for a, b := i, i+4; a < b; a, b = a+1, b-1 {
			shuffled[a], shuffled[b] = shuffled[b], shuffled[a]
		}
	}
	r := &RTPReceiver{}
	c := receive(t, r, shuffled)
	st := r.Stats()
	if len(c.video) != len(aus) || st.Lost != 0 || st.Reordered == 0 {
		t.Fatalf("%d units, stats %+v", len(c.video), st)
	}
	for i := range aus {
		if err := equalAU(c.video[i].NALUs, aus[i]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRTPDuplicatesAndLate(t *testing.T) {
	pkts, _ := psOverRTP(t, 10, 0)
	var in [][]byte
	for i, p := range pkts {
		in = append(in, p)
		if i%3 == 0 {
			in = append(in, p) // duplicate
		}
	}
	r := &RTPReceiver{}
	c := receive(t, r, in)
	if len(c.video) != 10 || r.Stats().Late == 0 || r.Stats().Lost != 0 {
		t.Fatalf("%d units, stats %+v", len(c.video), r.Stats())
	}
}

// TestRTPLoss drops one packet in the middle of a frame: that frame is
// dropped, the demuxer resynchronises at the next pack header, and the
// frame after it is flagged as a discontinuity.
func TestRTPLoss(t *testing.T) {
	pkts, aus := psOverRTP(t, 10, 0)
	// frame 0 is ~150 kB (many packets); find the packets of frame 3
	var lost int
	frame := 0
	for i, p := range pkts {
		if frame == 3 {
			lost = i
			break
		}
		if p[1]&0x80 != 0 {
			frame++
		}
	}
	in := append(append([][]byte(nil), pkts[:lost]...), pkts[lost+1:]...)
	r := &RTPReceiver{}
	c := receive(t, r, in)
	if len(c.video) != 9 || r.Stats().Lost != 1 {
		t.Fatalf("%d units, stats %+v, demux %+v", len(c.video), r.Stats(), r.Demuxer.Stats())
	}
	if c.video[3].PTS != 4*3600 || !c.video[3].Discontinuity {
		t.Fatalf("unit after the loss: PTS %d discontinuity %v", c.video[3].PTS, c.video[3].Discontinuity)
	}
	if err := equalAU(c.video[3].NALUs, aus[4]); err != nil {
		t.Fatal(err)
	}
}

// TestRTPGapBeyondWindow loses more packets than the window holds.
func TestRTPGapBeyondWindow(t *testing.T) {
	pkts, _ := psOverRTP(t, 3, 0)
	var in [][]byte
	in = append(in, pkts...)
	last := uint16(len(pkts))
	more, _ := psOverRTP(t, 3, last+100)
	in = append(in, more...)
	r := &RTPReceiver{}
	c := receive(t, r, in)
	if len(c.video) != 6 || r.Stats().Lost != 100 {
		t.Fatalf("%d units, stats %+v", len(c.video), r.Stats())
	}
}

// TestRTPRestart: a sender that starts again with other sequence numbers
// is followed rather than dropped as late.
func TestRTPRestart(t *testing.T) {
	a, _ := psOverRTP(t, 3, 40000)
	b, _ := psOverRTP(t, 3, 10)
	r := &RTPReceiver{}
	c := receive(t, r, append(a, b...))
	if len(c.video) != 6 || r.Stats().Restarts != 1 {
		t.Fatalf("%d units, stats %+v", len(c.video), r.Stats())
	}
}

// TestRTPMaxDelay: a missing packet is given up on after MaxDelay even
// when the window is not full.
func TestRTPMaxDelay(t *testing.T) {
	pkts, _ := psOverRTP(t, 2, 0)
	now := time.Unix(0, 0)
	c := &collector{}
	r := &RTPReceiver{Demuxer: c.demuxer(), Now: func() time.Time { return now }}
	_ = r.WriteRTP(pkts[0])
	_ = r.WriteRTP(pkts[2]) // pkts[1] is missing
	now = now.Add(50 * time.Millisecond)
	_ = r.WriteRTP(pkts[3])
	if r.Stats().Lost != 0 {
		t.Fatal("gave up too early")
	}
	now = now.Add(60 * time.Millisecond)
	_ = r.WriteRTP(pkts[4])
	if r.Stats().Lost != 1 {
		t.Fatalf("stats %+v", r.Stats())
	}
}

func TestRTPFiltering(t *testing.T) {
	pkts, _ := psOverRTP(t, 2, 0)
	r := &RTPReceiver{SSRC: 0x01020304}
	c := &collector{}
	r.Demuxer = c.demuxer()
	rtcp := []byte{0x80, 200, 0, 6, 1, 2, 3, 4}
	if err := r.WriteRTP(rtcp); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteRTP(rtpPacket(0, false, 99, []byte{1})); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteRTP([]byte{0x40, 1, 2}); err != ErrNotRTP {
		t.Fatal(err)
	}
	for _, p := range pkts {
		_ = r.WriteRTP(p)
	}
	st := r.Stats()
	if len(c.video) != 2 || st.RTCP != 1 || st.Foreign != 1 || st.Invalid != 1 {
		t.Fatalf("%d units, stats %+v", len(c.video), st)
	}
}

func TestParseRTP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		payload []byte
		ok      bool
	}{
		{"plain", rtpPacket(1, true, 5, []byte{9, 9}), []byte{9, 9}, true},
		{"csrc", append([]byte{0x81, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4}, 7), []byte{7}, true},
		{"extension", append([]byte{0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0xBE, 0xDE, 0, 1, 1, 2, 3, 4}, 7), []byte{7}, true},
		{"padding", []byte{0xA0, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 7, 0, 0, 3}, []byte{7}, true},
		{"padding too long", []byte{0xA0, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 7, 0, 0, 9}, nil, false},
		{"padding zero", []byte{0xA0, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 7, 0}, nil, false},
		{"extension past end", []byte{0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0xBE, 0xDE, 0, 9}, nil, false},
		{"csrc past end", []byte{0x8F, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5}, nil, false},
		{"version 1", []byte{0x40, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5}, nil, false},
		{"short", []byte{0x80, 96}, nil, false},
	} {
		_, p, err := ParseRTP(tc.in)
		if (err == nil) != tc.ok || !bytes.Equal(p, tc.payload) {
			t.Errorf("%s: payload %x err %v", tc.name, p, err)
		}
	}
}

func TestFrameReader(t *testing.T) {
	pkts, _ := psOverRTP(t, 5, 0)
	var stream []byte
	for i, p := range pkts {
		if i == 3 {
			stream = append(stream, 0, 0) // empty frame
		}
		if i == 5 {
			stream = append(stream, 0x12, 0x34, 0x56, 0x80, 0x60) // garbage: framing lost
		}
		stream, _ = AppendFrame(stream, p)
	}
	stream, _ = AppendFrame(stream, []byte{0x80, 201, 0, 1, 1, 2, 3, 4}) // RTCP passes through
	for _, chunk := range []int{1, 3, 1000, 1 << 20} {
		fr := NewFrameReader(&chunkReader{b: stream, n: chunk})
		r := &RTPReceiver{}
		c := &collector{}
		r.Demuxer = c.demuxer()
		var n int
		for {
			b, err := fr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
			if err := r.WriteRTP(b); err != nil {
				t.Fatal(err)
			}
		}
		st := fr.Stats()
		if n != len(pkts)+1 || st.Empty != 1 || st.Resyncs != 1 || st.GarbageBytes != 5 || len(c.video) != 5 {
			t.Fatalf("chunk %d: %d frames, %d units, stats %+v", chunk, n, len(c.video), st)
		}
	}
}

func TestFrameReaderEnds(t *testing.T) {
	p := rtpPacket(1, false, 1, []byte{1, 2, 3})
	f, _ := AppendFrame(nil, p)
	fr := NewFrameReader(bytes.NewReader(f[:len(f)-1]))
	if _, err := fr.Next(); err != io.ErrUnexpectedEOF {
		t.Fatal(err)
	}
	fr = NewFrameReader(bytes.NewReader(bytes.Repeat([]byte{0, 3, 1, 2, 3}, 1000)))
	fr.MaxResync = 100
	if _, err := fr.Next(); err != ErrFraming {
		t.Fatal(err)
	}
	if _, err := AppendFrame(nil, make([]byte, 70000)); err == nil {
		t.Fatal("oversized frame accepted")
	}
}

// chunkReader returns at most n bytes per Read, like a TCP socket.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p, c.b[:min(c.n, len(c.b))])
	c.b = c.b[k:]
	return k, nil
}
