package ps

import (
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// fuzzSeeds is small, valid PS with both video codecs and all audio
// codecs, plus the hand-made pieces of the table tests.
func fuzzSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, v := range []Codec{CodecH264, CodecH265} {
		m := &Muxer{Video: v, Audio: CodecAAC, MaxPESPayload: 100,
			AAC: &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelConfig: 1}}
		var b []byte
		for i, au := range fakeGOP(v, 3, 5) {
			for k := range au {
				au[k] = au[k][:min(len(au[k]), 120)] // small seeds fuzz faster
			}
			b, _ = m.AppendVideo(b, int64(i)*3600, int64(i)*3600, au, i == 0)
			b, _ = m.AppendAudio(b, int64(i)*3600, []byte{1, 2, 3, 4, 5})
		}
		seeds = append(seeds, b)
	}
	m := &Muxer{Video: CodecH264, Audio: CodecG711U}
	b, _ := m.AppendVideo(nil, 0, 0, [][]byte{{0x65, 0x88, 1}}, true)
	b, _ = m.AppendAudio(b, 0, []byte{0xFF, 0x7F})
	seeds = append(seeds, b,
		cat(pack2(7), psm(0x24, 0xE0, 0x0F, 0xC0), pes(0xE0, 0, idr265), pes(0xC0, 0, adts), pack2(0), pes(0xE0, 3600, p265)),
		cat(pack1(), openPES(0), idr264, pack2(0), rawUnit(0xBD, []byte{1}), pes(0xE2, -1, p264)),
	)
	return seeds
}

// checkDemuxer asserts the invariants that must hold whatever the input.
func checkDemuxer(t *testing.T, d *Demuxer) {
	d.OnVideo = func(au *VideoAU) {
		if len(au.NALUs) == 0 || len(au.NALUs) > d.maxNALUs() || !au.Codec.IsVideo() {
			t.Fatalf("bad unit %+v", au)
		}
		n := 0
		for _, u := range au.NALUs {
			if len(u) == 0 {
				t.Fatal("empty NAL unit handed out")
			}
			n += len(u)
		}
		if n > d.maxAU() {
			t.Fatalf("unit of %d bytes", n)
		}
	}
	d.OnAudio = func(f *AudioFrame) {
		if !f.Codec.IsAudio() || f.SampleRate == 0 || f.Samples == 0 {
			t.Fatalf("bad frame %+v", f)
		}
	}
}

func FuzzDemux(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(append([]byte{0}, s...))
		f.Add(append([]byte{13}, s...))
	}
	// The first byte is the size of the chunks the rest is written in
	// (0: all at once).
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		step := data[0]
		data = data[1:]
		d := &Demuxer{MaxAUSize: 1 << 16, MaxNALUs: 16}
		checkDemuxer(t, d)
		n := int(step)
		if n == 0 {
			n = len(data) + 1
		}
		for i := 0; i < len(data); i += n {
			d.Write(data[i:min(i+n, len(data))])
			if len(d.in) > 2*maxHeader {
				t.Fatalf("holds back %d bytes", len(d.in))
			}
			if i%7 == 3 {
				d.Flush()
			}
		}
		d.Flush()
		st := d.Stats()
		if st.Bytes != uint64(len(data)) {
			t.Fatalf("stats %+v", st)
		}
	})
}

// FuzzRTP feeds packets cut from the input (a length byte before each) to
// the reorder buffer and demuxer, with a clock that moves.
func FuzzRTP(f *testing.F) {
	pkts, _ := psOverRTP(f, 3, 65530)
	var seed []byte
	for i, p := range pkts {
		if i%5 == 0 && len(p) > 200 {
			p = p[:200]
		}
		seed = append(seed, byte(min(len(p), 255)))
		seed = append(seed, p[:min(len(p), 255)]...)
	}
	f.Add(append([]byte{4}, seed...))
	f.Add([]byte{1, 12, 0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 12, 0x80, 0xE0, 0x80, 1, 0, 0, 0, 0, 0, 0, 0, 1})
	// The first byte is the reorder window (0: the default).
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		window := data[0]
		data = data[1:]
		now := time.Unix(0, 0)
		d := &Demuxer{MaxAUSize: 1 << 16}
		checkDemuxer(t, d)
		r := &RTPReceiver{Demuxer: d, Window: int(window), Now: func() time.Time { return now }}
		for len(data) > 0 {
			n := min(int(data[0]), len(data)-1)
			_ = r.WriteRTP(data[1 : 1+n])
			data = data[1+n:]
			now = now.Add(time.Duration(n) * time.Millisecond)
			if r.buffered > len(r.slots) || r.buffered < 0 {
				t.Fatalf("%d packets buffered", r.buffered)
			}
		}
		r.Flush()
	})
}

func FuzzRFC4571(f *testing.F) {
	pkts, _ := psOverRTP(f, 2, 0)
	var seed []byte
	for _, p := range pkts[:4] {
		seed, _ = AppendFrame(seed, p[:min(len(p), 300)])
	}
	f.Add(seed)
	f.Add([]byte{0, 0, 0, 12, 0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := NewFrameReader(&chunkReader{b: data, n: 7})
		fr.MaxResync = 4096
		d := &Demuxer{}
		checkDemuxer(t, d)
		r := &RTPReceiver{Demuxer: d}
		for i := 0; ; i++ {
			b, err := fr.Next()
			if err != nil {
				break
			}
			if len(b) == 0 || len(b) > 0xFFFF || i > len(data) {
				t.Fatalf("frame of %d bytes, %d frames from %d bytes", len(b), i, len(data))
			}
			_ = r.WriteRTP(b)
		}
		st := fr.Stats()
		if st.GarbageBytes > uint64(len(data)) {
			t.Fatalf("stats %+v", st)
		}
	})
}
