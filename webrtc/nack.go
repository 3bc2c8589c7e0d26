package webrtc

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// How many sent packets per track a peer can retransmit. Video: 512 is
// 1.7 s of a 3 Mbit/s drone stream and 0.7 s at 8 Mbit/s, several round
// trips and a whole keyframe. Audio sends ~50 packets a second, so 128 is
// over 2 s. The ring keeps the stream's packets alive, so what it holds is
// most of a WHEP reader's memory (make bench: 1024 for every track cost
// 2.8 MB per reader of a stream nobody else read, 256 cost 0.8 MB); hence
// nackMaxAge on top. Both divide 65536, so a sequence number keeps its
// slot across the wrap.
const (
	nackLogVideo = 512
	nackLogAudio = 128
)

// rtcpCounts counts the feedback one peer received.
type rtcpCounts struct {
	nacks         atomic.Uint64 // NACK messages
	retransmitted atomic.Uint64 // packets sent again
	plis          atomic.Uint64 // picture loss indications (nothing to do: the source decides keyframes)
}

// nackResponder answers RTCP NACKs (RFC 4585 §6.2.1) by sending the lost
// packets again on the same SSRC.
//
// Unlike pion's responder it copies no payload: it keeps the header it saw
// and a reference to the payload, which is safe because every payload this
// package writes belongs to an immutable gateway.Unit. It must not be used
// on a writer whose payload buffers are reused.
type nackResponder struct {
	interceptor.NoOp
	counts *rtcpCounts

	mu      sync.Mutex
	streams map[uint32]*sentLog
}

// nackFactory makes one responder per PeerConnection.
type nackFactory struct{ counts *rtcpCounts }

func (f nackFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &nackResponder{counts: f.counts, streams: map[uint32]*sentLog{}}, nil
}

// nackMaxAge is how long a sent packet can be asked for again, on top of
// the ring's size. libwebrtc's players wait for a retransmission about
// one round trip plus their jitter buffer before they give up on a frame,
// so an answer later than this is wasted, and holding packets longer only
// keeps the stream's payloads alive: with a 1 s GOP the ring of 512 held
// 1.5 s of a 3 Mbit/s stream for its only reader.
const nackMaxAge = 500 * time.Millisecond

// monotonic is the sent logs' clock.
func monotonic() time.Duration { return time.Since(clockStart) }

var clockStart = time.Now()

// sentLog is a ring of the last packets sent on one SSRC, indexed by
// sequence number.
type sentLog struct {
	mu     sync.Mutex
	writer interceptor.RTPWriter
	ring   []sentPacket
	now    func() time.Duration // monotonic, but for tests
	// oldest is the sequence number of the oldest packet that may still be
	// held; everything before it was let go (see add).
	oldest uint16
	held   bool
}

type sentPacket struct {
	header  rtp.Header
	payload []byte
	at      time.Duration // l.now() when sent
	set     bool
}

func (l *sentLog) add(h *rtp.Header, payload []byte) {
	now := l.now()
	seq := h.SequenceNumber
	l.mu.Lock()
	defer l.mu.Unlock()
	e := &l.ring[int(seq)%len(l.ring)]
	if len(h.CSRC) > 0 || len(h.Extensions) > 0 {
		e.header = h.Clone() // extensions may live in a pooled header
	} else {
		e.header = *h
	}
	e.payload, e.at, e.set = payload, now, true

	// Let go of the packets older than nackMaxAge, from the oldest on, so
	// that they do not wait for their slot to be reused.
	if !l.held || seq-l.oldest >= uint16(len(l.ring)) {
		l.oldest = seq - uint16(len(l.ring)-1) // older slots were overwritten
	}
	l.held = true
	for l.oldest != seq {
		o := &l.ring[int(l.oldest)%len(l.ring)]
		if o.header.SequenceNumber == l.oldest {
			if o.set && now-o.at < nackMaxAge {
				break
			}
			*o = sentPacket{}
		}
		l.oldest++
	}
}

func (l *sentLog) get(seq uint16) (rtp.Header, []byte, bool) {
	e := &l.ring[int(seq)%len(l.ring)]
	l.mu.Lock()
	defer l.mu.Unlock()
	if !e.set || e.header.SequenceNumber != seq || l.now()-e.at >= nackMaxAge {
		return rtp.Header{}, nil, false
	}
	return e.header, e.payload, true
}

func supportsNack(info *interceptor.StreamInfo) bool {
	for _, fb := range info.RTCPFeedback {
		if fb.Type == "nack" && fb.Parameter == "" {
			return true
		}
	}
	return false
}

// BindLocalStream records every packet of a stream that negotiated NACK.
func (n *nackResponder) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	if !supportsNack(info) {
		return writer
	}
	size := nackLogVideo
	if strings.HasPrefix(strings.ToLower(info.MimeType), "audio/") {
		size = nackLogAudio
	}
	l := &sentLog{writer: writer, ring: make([]sentPacket, size), now: monotonic}
	n.mu.Lock()
	n.streams[info.SSRC] = l
	n.mu.Unlock()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if h.SSRC == info.SSRC {
			l.add(h, payload)
		}
		return writer.Write(h, payload, a)
	})
}

// UnbindLocalStream forgets a stream and the payloads it referenced.
func (n *nackResponder) UnbindLocalStream(info *interceptor.StreamInfo) {
	n.mu.Lock()
	delete(n.streams, info.SSRC)
	n.mu.Unlock()
}

// BindRTCPReader watches incoming RTCP for NACKs and PLIs.
func (n *nackResponder) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		i, attr, err := reader.Read(b, a)
		if err != nil {
			return 0, nil, err
		}
		if attr == nil {
			attr = interceptor.Attributes{}
		}
		pkts, err := attr.GetRTCPPackets(b[:i])
		if err != nil {
			return i, attr, nil // not ours to judge: pass it on
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.TransportLayerNack:
				n.counts.nacks.Add(1)
				n.resend(p)
			case *rtcp.PictureLossIndication:
				n.counts.plis.Add(1)
			}
		}
		return i, attr, nil
	})
}

// resend runs in the RTCP reader's goroutine (one per sender), which is
// what paces retransmissions behind the NACKs that ask for them.
func (n *nackResponder) resend(nack *rtcp.TransportLayerNack) {
	n.mu.Lock()
	l := n.streams[nack.MediaSSRC]
	n.mu.Unlock()
	if l == nil {
		return
	}
	for _, pair := range nack.Nacks {
		pair.Range(func(seq uint16) bool {
			h, payload, ok := l.get(seq)
			if ok {
				if _, err := l.writer.Write(&h, payload, interceptor.Attributes{}); err == nil {
					n.counts.retransmitted.Add(1)
				}
			}
			return true
		})
	}
}

// Close drops every log.
func (n *nackResponder) Close() error {
	n.mu.Lock()
	n.streams = map[uint32]*sentLog{}
	n.mu.Unlock()
	return nil
}
