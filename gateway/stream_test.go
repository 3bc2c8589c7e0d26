package gateway

import (
	"errors"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

func TestNewReaderStartsFromLastKeyframe(t *testing.T) {
	h := newTestHub(t, 0)
	pub, err := h.Publish("live/a", SourceInfo{Protocol: "test"}, []*Track{h264Track(true)})
	if err != nil {
		t.Fatal(err)
	}
	pub.WriteUnit(0, 0, [][]byte{testP}) // before any keyframe: useless, dropped
	pub.WriteUnit(0, 3000, [][]byte{testIDR})
	pub.WriteUnit(0, 6000, [][]byte{testP})
	pub.WriteUnit(0, 9000, [][]byte{testP})

	r, ch := collect(0)
	if err := pub.Stream().AddReader(r); err != nil {
		t.Fatal(err)
	}
	f := recv(t, ch)
	if !f.Unit.Key || !f.Backlog || f.Unit.PTS != 3000 {
		t.Fatalf("first frame = key %v backlog %v pts %d, want the keyframe at 3000 from the backlog", f.Unit.Key, f.Backlog, f.Unit.PTS)
	}
	if len(f.Unit.Payload) != 3 || f.Unit.Payload[0][0] != 0x67 || f.Unit.Payload[1][0] != 0x68 {
		t.Fatalf("keyframe does not start with SPS and PPS: %d NALUs", len(f.Unit.Payload))
	}
	recv(t, ch)
	recv(t, ch)
	pub.WriteUnit(0, 12000, [][]byte{testP})
	if f := recv(t, ch); f.Backlog || f.Unit.PTS != 12000 {
		t.Fatalf("live frame: backlog %v pts %d", f.Backlog, f.Unit.PTS)
	}
}

func TestSecondPublisherRefused(t *testing.T) {
	h := newTestHub(t, 0)
	if _, err := h.Publish("live/a", SourceInfo{}, []*Track{h264Track(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Publish("live/a", SourceInfo{}, []*Track{h264Track(true)}); !errors.Is(err, ErrPathBusy) {
		t.Fatalf("err = %v, want ErrPathBusy", err)
	}
}

func TestSlowReaderLosesFramesUntilKeyframe(t *testing.T) {
	h := newTestHub(t, 0)
	pub, _ := h.Publish("live/a", SourceInfo{}, []*Track{h264Track(true)})
	pub.WriteUnit(0, 0, [][]byte{testIDR})

	block := make(chan struct{})
	slow := &Reader{QueueSize: 4, Handle: func(Frame) error { <-block; return nil }}
	fast, fastCh := collect(0)
	s := pub.Stream()
	if err := s.AddReader(slow); err != nil {
		t.Fatal(err)
	}
	if err := s.AddReader(fast); err != nil {
		t.Fatal(err)
	}
	recv(t, fastCh) // the backlog keyframe
	for i := 1; i <= 20; i++ {
		pub.WriteUnit(0, int64(i*3000), [][]byte{testP})
	}
	for i := 1; i <= 20; i++ {
		if f := recv(t, fastCh); f.Unit.PTS != int64(i*3000) {
			t.Fatalf("fast reader got pts %d, want %d", f.Unit.PTS, i*3000)
		}
	}
	if slow.Dropped() == 0 {
		t.Fatal("slow reader dropped nothing")
	}
	droppedBefore := slow.Dropped()
	close(block)
	// After the drop the slow reader must skip P-frames until a keyframe.
	pub.WriteUnit(0, 21*3000, [][]byte{testP})
	if slow.Dropped() != droppedBefore+1 {
		t.Fatalf("P-frame after a drop was not skipped: dropped %d -> %d", droppedBefore, slow.Dropped())
	}
}

func TestReconnectKeepsReadersAndTimestamps(t *testing.T) {
	h := newTestHub(t, 5*time.Second)
	pub, _ := h.Publish("live/a", SourceInfo{}, []*Track{h264Track(true)})
	// Attached before the first unit: RTSP readers, to which the sequence
	// matters, only ever get live units.
	r, ch := collect(0)
	s := pub.Stream()
	if err := s.AddReader(r); err != nil {
		t.Fatal(err)
	}
	pub.WriteUnit(0, 90000, [][]byte{testIDR})
	first := recv(t, ch)
	lastSeq := first.Unit.RTP[len(first.Unit.RTP)-1].SequenceNumber
	pub.Close()

	pub2, err := h.Publish("live/a", SourceInfo{}, []*Track{h264Track(true)})
	if err != nil {
		t.Fatal(err)
	}
	if pub2.Stream() != s {
		t.Fatal("reconnect made a new stream")
	}
	pub2.WriteUnit(0, 0, [][]byte{testIDR}) // the new publisher's clock starts again at 0
	f := recv(t, ch)
	if f.Unit.PTS <= first.Unit.PTS {
		t.Fatalf("pts went backwards across reconnect: %d after %d", f.Unit.PTS, first.Unit.PTS)
	}
	if got := f.Unit.RTP[0].SequenceNumber; got != lastSeq+1 {
		t.Fatalf("RTP sequence jumped across reconnect: %d after %d", got, lastSeq)
	}
	select {
	case <-r.Done():
		t.Fatal("reader ended across reconnect")
	default:
	}
}

func TestStreamEndsAfterGrace(t *testing.T) {
	h := newTestHub(t, 50*time.Millisecond)
	gone := make(chan struct{})
	h.OnEvent = func(ev Event) {
		if ev.Kind == EventGone {
			close(gone)
		}
	}
	pub, _ := h.Publish("live/a", SourceInfo{}, []*Track{h264Track(true)})
	pub.WriteUnit(0, 0, [][]byte{testIDR})
	r, _ := collect(0)
	_ = pub.Stream().AddReader(r)
	pub.Close()
	<-gone
	<-r.Done()
	if !errors.Is(r.Err(), ErrStreamGone) {
		t.Fatalf("reader err = %v", r.Err())
	}
	if h.Stream("live/a") != nil {
		t.Fatal("stream still registered")
	}
}

// TestReaderGetsOnlyTracksItPlays: frames of a track the reader does not
// play are neither queued live nor replayed from the GOP, and losing
// them is not a drop.
func TestReaderGetsOnlyTracksItPlays(t *testing.T) {
	h := newTestHub(t, 0)
	audio, _ := TrackFor(&format.Opus{PayloadTyp: 111, ChannelCount: 2})
	pub, _ := h.Publish("live/plays", SourceInfo{}, []*Track{h264Track(true), audio})
	pub.WriteUnit(0, 0, [][]byte{testIDR})
	pub.WriteUnit(1, 0, [][]byte{{0xfc, 0x01}})
	r, ch := collect(0)
	video := pub.Tracks()[0]
	r.Plays = func(t *Track) bool { return t == video }
	if err := pub.Stream().AddReader(r); err != nil {
		t.Fatal(err)
	}
	pub.WriteUnit(1, 960, [][]byte{{0xfc, 0x02}})
	pub.WriteUnit(0, 3000, [][]byte{testP})
	for i, want := range []int64{0, 3000} {
		f := recv(t, ch)
		if f.Track != video || f.Unit.PTS != want {
			t.Fatalf("frame %d: track %s pts %d, want the video frame at %d", i, f.Track.Codec, f.Unit.PTS, want)
		}
	}
	if r.Dropped() != 0 {
		t.Fatalf("%d frames counted as dropped", r.Dropped())
	}
}
