package webrtc

import (
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

type capture struct{ pkts []rtp.Packet }

func (c *capture) Write(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
	c.pkts = append(c.pkts, rtp.Packet{Header: *h, Payload: payload})
	return len(payload), nil
}

type rtcpFeed struct{ raw []byte }

func (f *rtcpFeed) Read(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	return copy(b, f.raw), a, nil
}

// The responder resends what a NACK names, with the header that was sent
// and the very payload slice (no copy), and ignores what it never sent or
// already forgot.
func TestNackResponder(t *testing.T) {
	counts := &rtcpCounts{}
	it, _ := nackFactory{counts: counts}.NewInterceptor("")
	out := &capture{}
	info := &interceptor.StreamInfo{SSRC: 42, RTCPFeedback: []interceptor.RTCPFeedback{{Type: "nack"}}}
	w := it.BindLocalStream(info, out)
	payloads := map[uint16][]byte{}
	for seq := uint16(65000); seq != 1500; seq++ { // wraps, and overflows the log
		p := []byte{byte(seq), byte(seq >> 8)}
		payloads[seq] = p
		if _, err := w.Write(&rtp.Header{SSRC: 42, SequenceNumber: seq, Timestamp: uint32(seq) * 10, Marker: seq%3 == 0}, p, nil); err != nil {
			t.Fatal(err)
		}
	}
	sent := len(out.pkts)
	nack := &rtcp.TransportLayerNack{MediaSSRC: 42, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{1400, 1401, 1499, 100 /* forgotten */})}
	raw, _ := nack.Marshal()
	r := it.BindRTCPReader(&rtcpFeed{raw: raw})
	if _, _, err := r.Read(make([]byte, 1500), nil); err != nil {
		t.Fatal(err)
	}
	re := out.pkts[sent:]
	if len(re) != 3 || counts.retransmitted.Load() != 3 || counts.nacks.Load() != 1 {
		t.Fatalf("resent %d packets (counted %d)", len(re), counts.retransmitted.Load())
	}
	for _, p := range re {
		if p.Timestamp != uint32(p.SequenceNumber)*10 || p.Marker != (p.SequenceNumber%3 == 0) || p.SSRC != 42 {
			t.Fatalf("resent header %+v", p.Header)
		}
		if &p.Payload[0] != &payloads[p.SequenceNumber][0] {
			t.Fatalf("payload of %d was copied", p.SequenceNumber)
		}
	}
	// Streams without NACK feedback are not recorded.
	plain := &capture{}
	if w := it.BindLocalStream(&interceptor.StreamInfo{SSRC: 7}, plain); w != interceptor.RTPWriter(plain) {
		t.Fatal("a stream without NACK feedback got a recording writer")
	}
}

// The log lets go of packets older than nackMaxAge as new ones are sent
// (their payloads must not stay alive until the slot is reused) and does
// not resend them; younger ones stay.
func TestSentLogForgetsOldPackets(t *testing.T) {
	var now time.Duration
	l := &sentLog{writer: &capture{}, ring: make([]sentPacket, nackLogVideo), now: func() time.Duration { return now }}
	for seq := uint16(65530); seq != 10; seq++ { // across the wrap
		l.add(&rtp.Header{SequenceNumber: seq}, []byte{1})
		now += time.Millisecond
	}
	now += nackMaxAge - 6*time.Millisecond // the last 5 sent (5 to 9) are still young
	l.add(&rtp.Header{SequenceNumber: 10}, []byte{2})
	held := 0
	for i := range l.ring {
		if l.ring[i].payload != nil {
			held++
		}
	}
	if held != 6 {
		t.Fatalf("%d payloads still held, want the 5 young ones and the new one", held)
	}
	if _, _, ok := l.get(65535); ok {
		t.Fatal("an old packet would be resent")
	}
	for _, seq := range []uint16{5, 9, 10} {
		if _, _, ok := l.get(seq); !ok {
			t.Fatalf("young packet %d forgotten", seq)
		}
	}
	now += nackMaxAge
	if _, _, ok := l.get(10); ok {
		t.Fatal("a packet older than nackMaxAge would be resent before the next send let it go")
	}
}
