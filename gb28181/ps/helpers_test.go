package ps

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"
)

// collector records what a Demuxer hands out, copying it.
type collector struct {
	video []*VideoAU
	audio []*AudioFrame
}

func (c *collector) demuxer() *Demuxer {
	return &Demuxer{
		OnVideo: func(au *VideoAU) { c.video = append(c.video, au.Clone()) },
		OnAudio: func(f *AudioFrame) { c.audio = append(c.audio, f.Clone()) },
	}
}

// demuxAll writes b in chunks of size step (all at once when step <= 0)
// and flushes at the end.
func demuxAll(b []byte, step int) (*collector, Stats) {
	c := &collector{}
	d := c.demuxer()
	if step <= 0 {
		step = len(b) + 1
	}
	for i := 0; i < len(b); i += step {
		d.Write(b[i:min(i+step, len(b))])
	}
	d.Flush()
	return c, d.Stats()
}

// payload makes n bytes of fake slice data without zero bytes, so that it
// needs no emulation prevention.
func payload(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Intn(255) + 1)
	}
	return b
}

// fakeGOP makes n access units of the codec: the first with parameter
// sets and an IDR slice, the rest with one P slice; sizes vary and the
// first is large enough to need several PES packets.
func fakeGOP(c Codec, n int, seed int64) [][][]byte {
	rng := rand.New(rand.NewSource(seed))
	var aus [][][]byte
	for i := 0; i < n; i++ {
		size := 200 + rng.Intn(3000)
		if i == 0 {
			size = 150000
		}
		var au [][]byte
		switch c {
		case CodecH264:
			if i == 0 {
				au = append(au, []byte{0x67, 0x64, 0x00, 0x1F, 0xAC, 0xD9}, []byte{0x68, 0xEB, 0xE3, 0xCB})
				au = append(au, append([]byte{0x65, 0x88}, payload(rng, size)...))
			} else {
				au = append(au, append([]byte{0x41, 0x9A}, payload(rng, size)...))
			}
		case CodecH265:
			if i == 0 {
				au = append(au, []byte{0x40, 0x01, 0x0C, 0x01}, []byte{0x42, 0x01, 0x01, 0x01}, []byte{0x44, 0x01, 0xC1, 0x72})
				au = append(au, append([]byte{0x26, 0x01, 0xAF}, payload(rng, size)...))
			} else {
				au = append(au, append([]byte{0x02, 0x01, 0xD0}, payload(rng, size)...))
			}
		}
		aus = append(aus, au)
	}
	return aus
}

func equalAU(a, b [][]byte) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d NAL units, want %d", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return fmt.Errorf("NAL unit %d differs (%d bytes, want %d)", i, len(a[i]), len(b[i]))
		}
	}
	return nil
}

// muxGOP muxes fake video access units at 25 fps starting at pts0.
func muxGOP(t testing.TB, m *Muxer, aus [][][]byte, pts0 int64) []byte {
	t.Helper()
	var out []byte
	for i, au := range aus {
		var err error
		pts := pts0 + int64(i)*3600
		out, err = m.AppendVideo(out, pts, pts, au, i == 0)
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func nil2rng(seed int) *rand.Rand { return rand.New(rand.NewSource(int64(seed))) }
