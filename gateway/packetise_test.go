package gateway

import (
	"testing"
)

// rtpSink is a Sink that keeps what it was given.
type rtpSink struct{ units []*Unit }

func (k *rtpSink) WriteUnit(_ *Track, u *Unit) { k.units = append(k.units, u) }

// seqs lists the sequence numbers of frames' packets.
func seqs(fs ...Frame) []uint16 {
	var out []uint16
	for _, f := range fs {
		for _, p := range f.Unit.RTP {
			out = append(out, p.SequenceNumber)
		}
	}
	return out
}

func continuous(s []uint16) bool {
	for i := 1; i < len(s); i++ {
		if s[i] != s[i-1]+1 {
			return false
		}
	}
	return len(s) > 0
}

// TestRTPMadeOnlyWhileNeeded: a stream read only by readers that declare
// SkipRTP costs no packetisation; a reader that needs RTP gets its GOP
// replay packetised for it (timestamps in line with the live packets) and
// the live units packetised once for every such reader; packetisation
// stops with the last such reader and resumes for a sink. The GOP itself
// never holds packets.
func TestRTPMadeOnlyWhileNeeded(t *testing.T) {
	h := newTestHub(t, 0)
	pub, _ := h.Publish("live/lazy", SourceInfo{}, []*Track{h264Track(true)})
	s := pub.Stream()
	hls, hlsCh := collect(0)
	hls.SkipRTP = true
	if err := s.AddReader(hls); err != nil {
		t.Fatal(err)
	}

	pub.WriteUnit(0, 0, [][]byte{testIDR})
	pub.WriteUnit(0, 3000, [][]byte{testP})
	for range 2 {
		if f := recv(t, hlsCh); len(f.Unit.RTP) != 0 {
			t.Fatalf("unit packetised with only a SkipRTP reader attached: %d packets", len(f.Unit.RTP))
		}
	}

	web1, ch1 := collect(0)
	web2, ch2 := collect(0)
	for _, r := range []*Reader{web1, web2} {
		if err := s.AddReader(r); err != nil {
			t.Fatal(err)
		}
	}
	pub.WriteUnit(0, 6000, [][]byte{testP})
	pub.WriteUnit(0, 9000, [][]byte{testP})
	var live [2][]Frame
	for i, ch := range []chan Frame{ch1, ch2} {
		var base uint32
		for j, pts := range []int64{0, 3000} {
			f := recv(t, ch)
			if !f.Backlog || f.Unit.PTS != pts || len(f.Unit.RTP) == 0 {
				t.Fatalf("reader %d, replay frame %d: backlog %v pts %d with %d packets", i, j, f.Backlog, f.Unit.PTS, len(f.Unit.RTP))
			}
			base = f.Unit.RTP[0].Timestamp - uint32(f.Unit.PTS)
		}
		for range 2 {
			f := recv(t, ch)
			if f.Backlog || f.Unit.RTP[0].Timestamp-uint32(f.Unit.PTS) != base {
				t.Fatalf("reader %d: live unit out of line with the replay (backlog %v)", i, f.Backlog)
			}
			live[i] = append(live[i], f)
		}
	}
	for j := range 2 {
		if live[0][j].Unit != live[1][j].Unit {
			t.Fatalf("live unit %d made twice for two RTP readers", j)
		}
	}
	if got := seqs(live[0]...); !continuous(got) {
		t.Fatalf("live RTP sequence numbers not continuous: %v", got)
	}
	for _, f := range s.gop {
		if len(f.Unit.RTP) != 0 {
			t.Fatal("the GOP holds RTP packets")
		}
	}
	recv(t, hlsCh)
	recv(t, hlsCh)

	web1.Close()
	web2.Close()
	pub.WriteUnit(0, 12000, [][]byte{testP})
	if f := recv(t, hlsCh); len(f.Unit.RTP) != 0 {
		t.Fatal("still packetising after the last RTP reader left")
	}

	k := &rtpSink{}
	s.AddSink(k)
	pub.WriteUnit(0, 15000, [][]byte{testP})
	s.RemoveSink(k)
	pub.WriteUnit(0, 18000, [][]byte{testP})
	liveSeq := seqs(live[0]...)
	if len(k.units) != 1 || len(k.units[0].RTP) == 0 || k.units[0].RTP[0].SequenceNumber != liveSeq[len(liveSeq)-1]+1 {
		t.Fatalf("sink got %d units, want one packetised unit continuing the live sequence", len(k.units))
	}
	recv(t, hlsCh)
	if f := recv(t, hlsCh); len(f.Unit.RTP) != 0 {
		t.Fatal("still packetising after the sink left")
	}
}
