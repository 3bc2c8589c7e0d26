package gateway

import (
	"testing"
)

// rtpSink is a Sink that keeps what it was given.
type rtpSink struct{ units []*Unit }

func (k *rtpSink) WriteUnit(_ *Track, u *Unit) { k.units = append(k.units, u) }

// TestRTPMadeOnlyWhileNeeded: a stream read only by readers that declare
// SkipRTP costs no packetisation; the first reader that needs RTP gets the
// GOP packetised, in order, with sequence numbers that run on into the live
// units; packetisation stops with the last such reader and resumes for a
// sink.
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
	var gop []*Unit
	for range 2 {
		f := recv(t, hlsCh)
		if len(f.Unit.RTP) != 0 {
			t.Fatalf("unit packetised with only a SkipRTP reader attached: %d packets", len(f.Unit.RTP))
		}
		gop = append(gop, f.Unit)
	}

	web, webCh := collect(0)
	if err := s.AddReader(web); err != nil {
		t.Fatal(err)
	}
	pub.WriteUnit(0, 6000, [][]byte{testP})
	var seq []uint16
	for i := range 3 {
		f := recv(t, webCh)
		if i < 2 && f.Unit != gop[i] {
			t.Fatalf("backlog frame %d is not the unit the other reader got: made twice", i)
		}
		if len(f.Unit.RTP) == 0 {
			t.Fatalf("frame %d reached an RTP reader without packets", i)
		}
		for _, p := range f.Unit.RTP {
			seq = append(seq, p.SequenceNumber)
		}
	}
	for i := 1; i < len(seq); i++ {
		if seq[i] != seq[i-1]+1 {
			t.Fatalf("RTP sequence numbers not continuous over backlog and live units: %v", seq)
		}
	}
	recv(t, hlsCh)

	web.Close()
	pub.WriteUnit(0, 9000, [][]byte{testP})
	unwatched := recv(t, hlsCh).Unit
	if len(unwatched.RTP) != 0 {
		t.Fatal("still packetising after the last RTP reader left")
	}

	k := &rtpSink{}
	s.AddSink(k)
	pub.WriteUnit(0, 12000, [][]byte{testP})
	s.RemoveSink(k)
	pub.WriteUnit(0, 15000, [][]byte{testP})
	// The sink's arrival packetised the GOP's unit made in between first,
	// so the sequence runs on through it.
	if len(unwatched.RTP) == 0 || unwatched.RTP[0].SequenceNumber != seq[len(seq)-1]+1 {
		t.Fatal("the GOP's unwatched unit was not packetised in order when the sink came")
	}
	last := unwatched.RTP[len(unwatched.RTP)-1].SequenceNumber
	if len(k.units) != 1 || len(k.units[0].RTP) == 0 || k.units[0].RTP[0].SequenceNumber != last+1 {
		t.Fatalf("sink got %d units, want one packetised unit continuing the sequence", len(k.units))
	}
	recv(t, hlsCh)
	if f := recv(t, hlsCh); len(f.Unit.RTP) != 0 {
		t.Fatal("still packetising after the sink left")
	}
}
