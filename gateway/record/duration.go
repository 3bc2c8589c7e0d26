package record

import (
	"encoding/binary"
	"errors"
	"time"
)

// withDuration returns init (ftyp and moov of a fragmented MP4) saying
// that the movie lasts d: mvhd's duration and an mvex/mehd box
// (ISO/IEC 14496-12 §8.8.2, the fragmented movie's whole duration). A
// segment's own init says nothing of it, since it is written before its
// samples; a served range knows its length, and players that take the
// duration from the header (Safari and QuickTime, WebKit's controls) show
// it. ftyp and moov must be the only boxes of init; init is not changed.
func withDuration(init []byte, d time.Duration) ([]byte, error) {
	// Where a box found by children starts in init: its slices share
	// init's array and end where init ends.
	at := func(sub []byte) int { return cap(init) - cap(sub) }
	var ftypLen, moovAt int
	var scale uint32
	var mvhdAt, mvexAt, mvexLen int
	hasMehd := false
	err := children(init, func(typ string, box, payload []byte) error {
		switch typ {
		case "ftyp":
			ftypLen = len(box)
		case "moov":
			moovAt = at(box)
			return children(payload, func(typ string, b, p []byte) error {
				switch typ {
				case "mvhd":
					if len(p) < 20 || p[0] == 1 && len(p) < 32 {
						return errors.New("short mvhd")
					}
					mvhdAt = at(p)
					if p[0] == 1 {
						scale = binary.BigEndian.Uint32(p[20:])
					} else {
						scale = binary.BigEndian.Uint32(p[12:])
					}
				case "mvex":
					if len(b) == len(p)+16 {
						return errors.New("64-bit box sizes in an init segment")
					}
					mvexAt, mvexLen = at(b), len(b)
					return children(p, func(typ string, _, _ []byte) error {
						hasMehd = hasMehd || typ == "mehd"
						return nil
					})
				}
				return nil
			})
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case ftypLen == 0 || moovAt == 0 || mvhdAt == 0 || scale == 0 || mvexAt < moovAt:
		return nil, errors.New("no ftyp, moov or mvhd with a timescale")
	case mvexAt == 0 || hasMehd || mvexLen >= 1<<32-16:
		return nil, errors.New("no mvex, or one with a mehd already")
	}
	ticks := uint64(d) * uint64(scale) / uint64(time.Second)
	out := make([]byte, 0, len(init)+20)
	out = append(out, init...)
	// mvhd: version 0 keeps a 32-bit duration after creation,
	// modification and timescale; version 1 a 64-bit one.
	if out[mvhdAt] == 1 {
		binary.BigEndian.PutUint64(out[mvhdAt+24:], ticks)
	} else {
		binary.BigEndian.PutUint32(out[mvhdAt+16:], uint32(min(ticks, 1<<32-1)))
	}
	// mehd, version 1 (64-bit), first in mvex; mvex and moov grow by it.
	mehd := make([]byte, 20)
	binary.BigEndian.PutUint32(mehd, 20)
	copy(mehd[4:], "mehd")
	mehd[8] = 1
	binary.BigEndian.PutUint64(mehd[12:], ticks)
	body := mvexAt + 8
	out = append(out[:body], append(mehd, init[body:]...)...)
	for _, box := range []int{moovAt, mvexAt} {
		n := binary.BigEndian.Uint32(out[box:])
		if n == 1 || n > 1<<32-21 {
			return nil, errors.New("64-bit box sizes in an init segment")
		}
		binary.BigEndian.PutUint32(out[box:], n+20)
	}
	return out, nil
}
