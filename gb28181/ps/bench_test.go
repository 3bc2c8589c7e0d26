package ps

import (
	"testing"
)

// gbStream is 10 s of a GB/T 28181-like stream: 25 fps H.264 with a key
// frame every 2 s, about 4 Mbit/s, one pack per frame.
func gbStream(b *testing.B) []byte {
	aus := fakeGOP(CodecH264, 250, 11)
	for i := range aus {
		if i%50 == 0 && i > 0 {
			aus[i] = fakeGOP(CodecH264, 1, int64(i))[0]
		} else if i > 0 {
			aus[i][0] = append(aus[i][0], realistic(nil2rng(i), 15000)...)
		}
	}
	m := &Muxer{Video: CodecH264}
	return muxGOP(b, m, aus, 0)
}

// realistic makes n bytes of uniformly random slice data with emulation
// prevention applied (ISO/IEC 14496-10 §7.4.1), so zero bytes are as common
// as in real entropy-coded video.
func realistic(rng interface{ Intn(int) int }, n int) []byte {
	b := make([]byte, 0, n+n/100)
	zeros := 0
	for len(b) < n {
		x := byte(rng.Intn(256))
		if zeros >= 2 && x <= 3 {
			b = append(b, 3)
			zeros = 0
		}
		b = append(b, x)
		if x == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	if b[len(b)-1] == 0 {
		b[len(b)-1] = 0x80
	}
	return b
}

func BenchmarkDemux(b *testing.B) {
	ps := gbStream(b)
	for _, bc := range []struct {
		name string
		step int
	}{{"whole", 0}, {"rtp-1400", 1400}} {
		b.Run(bc.name, func(b *testing.B) {
			var units int
			d := &Demuxer{OnVideo: func(*VideoAU) { units++ }}
			step := bc.step
			if step == 0 {
				step = len(ps)
			}
			b.SetBytes(int64(len(ps)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for i := 0; i < len(ps); i += step {
					d.Write(ps[i:min(i+step, len(ps))])
				}
				d.Flush()
			}
			if units != 250*b.N {
				b.Fatalf("%d units", units)
			}
		})
	}
}

// BenchmarkRTP is the demuxer behind the reorder buffer, packets in order.
func BenchmarkRTP(b *testing.B) {
	ps := gbStream(b)
	var pkts [][]byte
	var total int
	for i := 0; len(ps) > 0; i++ {
		k := min(len(ps), 1400)
		pkts = append(pkts, rtpPacket(uint16(i), false, 1, ps[:k]))
		total += k
		ps = ps[k:]
	}
	d := &Demuxer{}
	r := &RTPReceiver{Demuxer: d}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, p := range pkts {
			_ = r.WriteRTP(p)
		}
	}
}
