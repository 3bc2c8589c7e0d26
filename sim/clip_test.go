package sim

import (
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/h264clip"
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
		if h264clip.IsIDR(au) {
			keys++
			if !h264clip.HasParams(au) {
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
