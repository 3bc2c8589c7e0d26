package record

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

var (
	testSPS = []byte{0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0, 0x3d, 0xa1, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x16, 0x2d, 0x96}
	testPPS = []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}
)

// testSegment builds a segment as the writer does: init, then parts of
// 25 video samples (first one sync) and 43 AAC samples.
func testSegment(t testing.TB, parts int) ([]byte, []int) {
	var buf seekablebuffer.Buffer
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{
		{ID: 1, TimeScale: 90000, Codec: &codecs.H264{SPS: testSPS, PPS: testPPS}},
		{ID: 2, TimeScale: 44100, Codec: &codecs.MPEG4Audio{Config: mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 44100, ChannelCount: 1}}},
	}}
	if err := init.Marshal(&buf); err != nil {
		t.Fatal(err)
	}
	ends := []int{len(buf.Bytes())}
	for p := 0; p < parts; p++ {
		var v, a []*fmp4.Sample
		for i := 0; i < 25; i++ {
			v = append(v, &fmp4.Sample{Duration: 3600, IsNonSyncSample: i > 0, Payload: bytes.Repeat([]byte{byte(i)}, 100)})
		}
		for i := 0; i < 43; i++ {
			a = append(a, &fmp4.Sample{Duration: 1024, Payload: []byte{1, 2, 3}})
		}
		part := fmp4.Part{SequenceNumber: uint32(p), Tracks: []*fmp4.PartTrack{
			{ID: 1, BaseTime: uint64(p * 90000), Samples: v},
			{ID: 2, BaseTime: uint64(p * 43 * 1024), Samples: a},
		}}
		if err := part.Marshal(&buf); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, len(buf.Bytes()))
	}
	return buf.Bytes(), ends
}

// TestScanTornTail: a file cut anywhere (kill -9, power loss) is read up
// to its last whole part, and the repair cuts it there.
func TestScanTornTail(t *testing.T) {
	b, ends := testSegment(t, 3)
	for cut := 0; cut <= len(b); cut += 97 {
		s, err := scanSegment(bytes.NewReader(b[:cut]), int64(cut))
		if cut < ends[0] {
			if err == nil {
				t.Fatalf("cut at %d (inside the init) scanned", cut)
			}
			continue
		}
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		whole := 0
		for _, e := range ends[1:] {
			if e <= cut {
				whole++
			}
		}
		if len(s.parts) != whole || s.end != int64(ends[whole]) {
			t.Fatalf("cut at %d: %d parts ending at %d, want %d ending at %d", cut, len(s.parts), s.end, whole, ends[whole])
		}
	}
	s, err := scanSegment(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if d := s.duration(); d < 2.99 || d > 3.01 {
		t.Fatalf("duration %.3f, want 3", d)
	}
	if !s.parts[1].tracks[0].sync || s.parts[1].tracks[0].dur != 90000 || s.parts[1].tracks[1].base != 43*1024 {
		t.Fatalf("part 1: %+v", s.parts[1])
	}
	// Repair on disk.
	file := filepath.Join(t.TempDir(), "seg.mp4")
	if err := os.WriteFile(file, b[:ends[2]+50], 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := loadSegment(file, true)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(file); fi.Size() != int64(ends[2]) || e.bytes != int64(ends[2]) {
		t.Fatalf("repaired to %d bytes, want %d", fi.Size(), ends[2])
	}
}

// TestPatchMoof: the rewritten moof keeps its size and moves tfdt.
func TestPatchMoof(t *testing.T) {
	b, ends := testSegment(t, 2)
	s, err := scanSegment(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	p := s.parts[1]
	moof := b[p.off : p.off+p.moofSize]
	out, err := patchMoof(moof, 7, func(id uint32) int64 { return map[uint32]int64{1: 1000, 2: -44032}[id] })
	if err != nil || len(out) != len(moof) {
		t.Fatalf("patch: %v, %d bytes from %d", err, len(out), len(moof))
	}
	tr, err := parseMoof(out)
	if err != nil || tr[0].base != 91000 || tr[1].base != 0 {
		t.Fatalf("patched: %+v %v", tr, err)
	}
	_ = ends
}

// FuzzScanSegment: no input makes the scanner panic or allocate beyond
// its limits; what it returns is consistent with the input's size.
func FuzzScanSegment(f *testing.F) {
	b, ends := testSegment(f, 2)
	f.Add(b)
	f.Add(b[:ends[1]+10])
	f.Add(b[:ends[0]])
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := scanSegment(bytes.NewReader(in), int64(len(in)))
		if err != nil {
			return
		}
		if s.end > int64(len(in)) {
			t.Fatalf("end %d past %d", s.end, len(in))
		}
		for _, p := range s.parts {
			if p.off+p.moofSize+p.mdatSize > s.end {
				t.Fatalf("part past end")
			}
			moof := in[p.off : p.off+p.moofSize]
			if _, err := patchMoof(moof, 1, func(uint32) int64 { return 5 }); err != nil {
				t.Fatalf("a moof the scanner took does not patch: %v", err)
			}
		}
		_ = s.duration()
	})
}

// FuzzParseMoof: arbitrary moof bytes are rejected or parsed, never a panic.
func FuzzParseMoof(f *testing.F) {
	b, ends := testSegment(f, 1)
	f.Add(b[ends[0]:])
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = parseMoof(in)
		if len(in) >= 8 {
			_, _ = patchMoof(in, 1, func(uint32) int64 { return -3 })
		}
	})
}

// FuzzParseIdx: a damaged part table is refused, never trusted past the
// file's end, never a panic.
func FuzzParseIdx(f *testing.F) {
	b, _ := testSegment(f, 2)
	s, err := scanSegment(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(appendIdx(nil, int64(len(b)), s.parts), int64(len(b)))
	f.Fuzz(func(t *testing.T, in []byte, size int64) {
		parts, err := parseIdx(in, size)
		if err != nil {
			return
		}
		for _, p := range parts {
			if p.off < 0 || p.off+p.moofSize+p.mdatSize > size {
				t.Fatalf("part %+v past %d", p, size)
			}
		}
	})
}
