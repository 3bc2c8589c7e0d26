package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// headerDuration reads what a player reads: the movie timescale and
// duration from mvhd, and mehd's fragment duration, in seconds.
func headerDuration(init []byte) (mvhd, mehd float64, err error) {
	var scale uint32
	err = children(init, func(typ string, _, p []byte) error {
		if typ != "moov" {
			return nil
		}
		return children(p, func(typ string, _, p []byte) error {
			switch typ {
			case "mvhd":
				if p[0] == 1 {
					scale = binary.BigEndian.Uint32(p[20:])
					mvhd = float64(binary.BigEndian.Uint64(p[24:])) / float64(scale)
				} else {
					scale = binary.BigEndian.Uint32(p[12:])
					mvhd = float64(binary.BigEndian.Uint32(p[16:])) / float64(scale)
				}
			case "mvex":
				return children(p, func(typ string, _, p []byte) error {
					if typ == "mehd" {
						if p[0] != 1 || scale == 0 {
							return errors.New("mehd before mvhd, or not version 1")
						}
						mehd = float64(binary.BigEndian.Uint64(p[4:])) / float64(scale)
					}
					return nil
				})
			}
			return nil
		})
	})
	return mvhd, mehd, err
}

func TestWithDuration(t *testing.T) {
	seg, ends := testSegment(t, 1)
	init := seg[:ends[0]]
	out, err := withDuration(init, 3*time.Hour+250*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(init)+20 {
		t.Fatalf("%d bytes, want %d", len(out), len(init)+20)
	}
	mvhd, mehd, err := headerDuration(out)
	if err != nil || mvhd != 10800.25 || mehd != 10800.25 {
		t.Fatalf("mvhd %v mehd %v (%v), want 10800.25 each", mvhd, mehd, err)
	}
	var in fmp4.Init
	if err := in.Unmarshal(bytes.NewReader(out)); err != nil || len(in.Tracks) != 2 {
		t.Fatalf("the patched init no longer reads: %v", err)
	}
	if _, _, err := headerDuration(init); err != nil {
		t.Fatal("the input was changed")
	}
	if _, err := withDuration(out, time.Second); err == nil {
		t.Fatal("a second mehd was added")
	}
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"no moov":   init[:ends[0]-len(init)+8],
		"truncated": init[:len(init)-3],
	} {
		if _, err := withDuration(bad, time.Second); err == nil {
			t.Errorf("%s: patched", name)
		}
	}
}

// FuzzWithDuration: whatever a segment file's init holds, patching it
// never panics, and what it returns reads back with the duration asked.
func FuzzWithDuration(f *testing.F) {
	seg, ends := testSegment(f, 1)
	f.Add(seg[:ends[0]])
	f.Add([]byte("\x00\x00\x00\x08ftyp\x00\x00\x00\x08moov"))
	f.Fuzz(func(t *testing.T, init []byte) {
		out, err := withDuration(init, 90*time.Second)
		if err != nil {
			return
		}
		if _, mehd, err := headerDuration(out); err != nil || mehd != 90 {
			t.Fatalf("patched init reads mehd %v, %v", mehd, err)
		}
	})
}
