package main

import (
	"io"
	"log/slog"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gateway/record"
)

// TestViewersLeaveOutTheRecorder: the control plane's count of viewers
// (idle stop) is every reader of a path but the recorder's.
func TestViewersLeaveOutTheRecorder(t *testing.T) {
	hub := gateway.NewHub(0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(hub.Close)
	const path = "SN1/99-0-0/normal-0"
	if n := viewers(hub, path); n != 0 {
		t.Fatalf("no stream: %d viewers", n)
	}
	tr, _ := gateway.TrackFor(&format.H264{PayloadTyp: 96})
	if _, err := hub.Publish(path, gateway.SourceInfo{Protocol: "rtmp"}, []*gateway.Track{tr}); err != nil {
		t.Fatal(err)
	}
	s := hub.Stream(path)
	steps := []struct {
		protocol string
		want     int
	}{
		{record.ReaderProtocol, 0}, // recorded, nobody watching
		{"webrtc", 1},
		{"hls", 2},
	}
	for _, st := range steps {
		r := &gateway.Reader{Protocol: st.protocol, Handle: func(gateway.Frame) error { return nil }}
		if err := s.AddReader(r); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		if n := viewers(hub, path); n != st.want {
			t.Fatalf("after a %s reader: %d viewers, want %d (readers %d)", st.protocol, n, st.want, len(s.Readers()))
		}
	}
}
