package sim

import (
	"testing"
	"time"
)

func TestEmbeddedClip(t *testing.T) {
	c, err := loadClip(clipH264, ClipFPS)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.aus) != 250 {
		t.Fatalf("access units: got %d, want 250", len(c.aus))
	}
	if c.duration() != 10*time.Second {
		t.Fatalf("duration: got %v", c.duration())
	}
	keys := 0
	for i, au := range c.aus {
		if isIDR(au) {
			keys++
			if !hasParams(au) {
				t.Fatalf("keyframe %d has no SPS", i)
			}
			if i%50 != 0 {
				t.Fatalf("keyframe at %d, want every 50 frames", i)
			}
		}
	}
	if keys != 5 {
		t.Fatalf("keyframes: got %d, want 5", keys)
	}
}

func TestSplitAnnexB(t *testing.T) {
	in := []byte{0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5}
	got := splitAnnexB(in)
	want := [][]byte{{0x67, 1, 2}, {0x68, 3}, {0x65, 4, 5}}
	if len(got) != len(want) {
		t.Fatalf("got %d units: %x", len(got), got)
	}
	for i := range want {
		if string(got[i]) != string(want[i]) {
			t.Fatalf("unit %d: got %x want %x", i, got[i], want[i])
		}
	}
}
