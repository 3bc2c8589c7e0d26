package h264clip

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSplit(t *testing.T) {
	in := []byte{0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5}
	got := Split(in)
	want := [][]byte{{0x67, 1, 2}, {0x68, 3}, {0x65, 4, 5}}
	if len(got) != len(want) {
		t.Fatalf("got %d units: %x", len(got), got)
	}
	for i := range want {
		if string(got[i]) != string(want[i]) {
			t.Fatalf("unit %d: got %x want %x", i, got[i], want[i])
		}
	}
	if got := Split([]byte{0, 0, 1, 0, 0, 1, 0x41}); len(got) != 1 || got[0][0] != 0x41 {
		t.Fatalf("an empty unit was kept: %x", got)
	}
}

// TestParse: the clip docksim ships (10 s at 25 fps, a keyframe every 50
// frames) gives 250 pictures, every IDR with its parameter sets; clips
// without parameter sets or without a leading IDR are refused.
func TestParse(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "sim", "clip", "clip.h264"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.AUs) != 250 {
		t.Fatalf("access units: got %d, want 250", len(c.AUs))
	}
	keys := 0
	for i, au := range c.AUs {
		if IsIDR(au) {
			keys++
			if !HasParams(au) {
				t.Fatalf("keyframe %d has no SPS", i)
			}
		}
	}
	if keys != 5 || !IsIDR(c.AUs[0]) {
		t.Fatalf("keyframes: got %d", keys)
	}
	if _, err := Parse([]byte{0, 0, 1, 0x41, 1, 2}); err == nil {
		t.Fatal("a clip without SPS, PPS and IDR accepted")
	}
	if _, err := Parse(nil); err == nil {
		t.Fatal("an empty clip accepted")
	}
}
