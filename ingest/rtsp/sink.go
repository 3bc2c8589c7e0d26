package rtsp

import (
	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"

	"github.com/skyrelay/skyrelay/gateway"
)

// sink feeds a ServerStream with the RTP packets the stream core made once
// per unit. It runs in the publisher's goroutine, under the stream's lock,
// and never blocks: gortsplib only queues each packet per session, and a
// session whose queue is full loses the packet (OnStreamWriteError).
//
// Its fields are fixed at creation, so it needs no lock of its own.
type sink struct {
	st      *gortsplib.ServerStream
	medias  []*description.Media // by track index
	pt      []uint8              // the payload type each track's packets carry
	refresh []func() bool        // video: copy the track's parameter sets
}

// WriteUnit implements gateway.Sink.
func (k *sink) WriteUnit(t *gateway.Track, u *gateway.Unit) {
	i := t.Index
	if i < 0 || i >= len(k.medias) {
		return
	}
	// The core updates the track's parameter sets before the keyframe that
	// carries them: describe the stream with them from now on.
	if u.Key && k.refresh[i] != nil && k.refresh[i]() {
		k.st.ReloadDesc()
	}
	m := k.medias[i]
	for _, pkt := range u.RTP {
		if pkt.PayloadType != k.pt[i] {
			continue // ServerStream would find no format for it
		}
		// The packets are shared with every other output; ServerStream
		// writes its SSRC into the packet it is given, so give it a copy of
		// the header (the payload is only read).
		c := *pkt
		_ = k.st.WritePacketRTPWithNTP(m, &c, u.Arrival)
	}
}
