package gateway

import (
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

// Parameter sets of a 320x240 H.264 stream (from ffmpeg/libx264).
var (
	testSPS = []byte{0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfa, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0x20, 0xf1, 0x42, 0x99, 0x60}
	testPPS = []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}
	testIDR = []byte{0x65, 0x88, 0x84, 0x00, 0x33, 0xff}
	testP   = []byte{0x41, 0x9a, 0x24, 0x6c, 0x41}
)

func h264Track(withParams bool) *Track {
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	if withParams {
		f.SPS, f.PPS = testSPS, testPPS
	}
	t, _ := TrackFor(f)
	return t
}

func newTestHub(t *testing.T, grace time.Duration) *Hub {
	h := NewHub(grace, nil)
	t.Cleanup(h.Close)
	return h
}

// collect returns a reader that sends every frame to a channel.
func collect(queue int) (*Reader, chan Frame) {
	ch := make(chan Frame, 4096)
	return &Reader{Protocol: "test", QueueSize: queue, Handle: func(f Frame) error { ch <- f; return nil }}, ch
}

func recv(t *testing.T, ch chan Frame) Frame {
	t.Helper()
	select {
	case f := <-ch:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no frame")
		return Frame{}
	}
}
