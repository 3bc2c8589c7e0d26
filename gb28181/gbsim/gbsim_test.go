package gbsim

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/skyrelay/skyrelay/gb28181/ps"
	"github.com/skyrelay/skyrelay/internal/h264clip"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestSplitClip: the repository's clip (10 s at 25 fps) splits into 250
// pictures, each IDR with its parameter sets.
func TestSplitClip(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testpeer.Root(), "sim", "clip", "clip.h264"))
	if err != nil {
		t.Fatal(err)
	}
	aus, err := splitClip(b)
	if err != nil {
		t.Fatal(err)
	}
	keys := 0
	for _, au := range aus {
		if au.key {
			keys++
			if !h264clip.HasParams(au.nalus) {
				t.Fatal("IDR without SPS/PPS")
			}
		}
	}
	if len(aus) != 250 || keys == 0 || !aus[0].key {
		t.Fatalf("%d pictures, %d key", len(aus), keys)
	}
	if _, err := splitClip([]byte{0, 0, 1, 0x41, 1, 2}); err == nil {
		t.Fatal("a clip without IDR accepted")
	}
	if _, err := splitClip(nil); err == nil {
		t.Fatal("empty clip accepted")
	}
}

// TestAppendRTP: the packets gbsim sends read back as RTP (RFC 3550).
func TestAppendRTP(t *testing.T) {
	pkt := appendRTP(nil, true, 65535, 90000, 200000001, []byte{0, 0, 1, 0xBA})
	h, payload, err := ps.ParseRTP(pkt)
	if err != nil || !h.Marker || h.Seq != 65535 || h.Timestamp != 90000 || h.SSRC != 200000001 || h.PayloadType != 96 || len(payload) != 4 {
		t.Fatalf("%+v %v", h, err)
	}
}
