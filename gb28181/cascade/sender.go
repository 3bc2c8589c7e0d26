package cascade

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"golang.org/x/net/ipv4"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gb28181/ps"
)

// rtpPayloadMax keeps an RTP packet (also over TCP) under a typical MTU.
const rtpPayloadMax = 1400

// packetWriter sends the RTP packets of one access unit.
type packetWriter interface {
	write(pkts [][]byte) (int, error)
	close()
}

// udpWriter sends the packets of an access unit from the port the 200
// announced, one datagram each, in as few system calls as the platform
// allows (sendmmsg on Linux: a 20 kB key frame is one call, not fifteen).
type udpWriter struct {
	pc    *net.UDPConn
	batch *ipv4.PacketConn
	dst   *net.UDPAddr
	msgs  []ipv4.Message
}

func newUDPWriter(pc *net.UDPConn, dst *net.UDPAddr) *udpWriter {
	return &udpWriter{pc: pc, batch: ipv4.NewPacketConn(pc), dst: dst}
}

func (w *udpWriter) write(pkts [][]byte) (int, error) {
	if cap(w.msgs) < len(pkts) {
		w.msgs = make([]ipv4.Message, len(pkts))
		for i := range w.msgs {
			w.msgs[i].Buffers = make([][]byte, 1)
		}
	}
	ms := w.msgs[:len(pkts)]
	n := 0
	for i, p := range pkts {
		ms[i].Buffers[0], ms[i].Addr = p, w.dst
		n += len(p)
	}
	for len(ms) > 0 {
		k, err := w.batch.WriteBatch(ms, 0)
		if err != nil {
			return 0, err
		}
		ms = ms[k:]
	}
	return n, nil
}

func (w *udpWriter) close() { w.pc.Close() }

// tcpWriter frames packets per RFC 4571 and writes a whole access unit at
// once; a peer that stops reading for writeTimeout ends the session.
type tcpWriter struct {
	c   net.Conn
	buf []byte
}

const writeTimeout = 5 * time.Second

func newTCPWriter(ctx context.Context, c net.Conn) *tcpWriter {
	go func() { <-ctx.Done(); c.Close() }()
	return &tcpWriter{c: c}
}

func (w *tcpWriter) write(pkts [][]byte) (int, error) {
	w.buf = w.buf[:0]
	for _, p := range pkts {
		var err error
		if w.buf, err = ps.AppendFrame(w.buf, p); err != nil {
			return 0, err
		}
	}
	_ = w.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	return w.c.Write(w.buf)
}

func (w *tcpWriter) close() { w.c.Close() }

// sender is the gateway reader of one session: it muxes the stream's
// access units into PS (one pack per unit, system header and PSM before
// key frames) and sends them as RTP with the session's SSRC, the 90 kHz
// PTS as timestamp and the marker on a unit's last packet.
type sender struct {
	w       packetWriter
	mux     ps.Muxer
	ssrc    uint32
	pt      uint8 // PS payload type from the offer (96 as a rule)
	seq     uint16
	started bool // a video key frame went out (or the stream has no video)
	video   int  // index of the video track, -1 for none
	audio   int  // index of the audio track muxed, -1 for none
	buf     []byte
	pkts    [][]byte
	pktBuf  []byte
	stats   *counters
	invited time.Time
	first   atomic.Int64 // ns from INVITE to the first packet

	packets, bytes atomic.Uint64
	r              *gateway.Reader
}

func newSender(tracks []*gateway.Track, ssrc uint32, pt int, w packetWriter, stats *counters, invited time.Time) *sender {
	s := &sender{w: w, ssrc: ssrc, pt: uint8(pt & 0x7f), video: -1, audio: -1, stats: stats, invited: invited}
	for _, t := range tracks {
		switch f := t.Format.(type) {
		case *format.H264:
			if s.video < 0 {
				s.video, s.mux.Video = t.Index, ps.CodecH264
			}
		case *format.H265:
			if s.video < 0 {
				s.video, s.mux.Video = t.Index, ps.CodecH265
			}
		case *format.MPEG4Audio:
			if s.audio < 0 && f.Config != nil {
				s.audio, s.mux.Audio, s.mux.AAC = t.Index, ps.CodecAAC, f.Config
			}
		case *format.G711:
			if s.audio < 0 && f.SampleRate == 8000 && f.ChannelCount <= 1 {
				s.audio, s.mux.Audio = t.Index, ps.CodecG711A
				if f.MULaw {
					s.mux.Audio = ps.CodecG711U
				}
			}
		}
	}
	s.started = s.video < 0
	return s
}

func (s *sender) reader() *gateway.Reader {
	s.r = &gateway.Reader{Protocol: "gb28181-upstream", SkipRTP: true, Handle: s.handle,
		Plays: func(t *gateway.Track) bool { return t.Index == s.video || t.Index == s.audio }}
	return s.r
}

func (s *sender) close() {
	if s.r != nil {
		s.r.Close()
	}
	s.w.close()
}

// handle muxes and sends one frame.
func (s *sender) handle(f gateway.Frame) error {
	u := f.Unit
	var err error
	buf := s.buf[:0]
	var ts int64
	switch f.Track.Index {
	case s.video:
		if !s.started && !u.Key {
			return nil // the upstream's decoder starts at a key frame
		}
		s.started = true
		ts = u.PTS
		buf, err = s.mux.AppendVideo(buf, ts, ts, u.Payload, u.Key)
	case s.audio:
		if !s.started {
			return nil
		}
		rate := int64(f.Track.ClockRate())
		if rate <= 0 {
			return nil
		}
		ts = u.PTS * 90000 / rate
		if s.mux.Audio == ps.CodecAAC {
			for i, au := range u.Payload {
				if buf, err = s.mux.AppendAudio(buf, ts+int64(i)*1024*90000/rate, au); err != nil {
					break
				}
			}
		} else {
			var samples []byte
			for _, p := range u.Payload {
				samples = append(samples, p...)
			}
			buf, err = s.mux.AppendAudio(buf, ts, samples)
		}
	default:
		return nil
	}
	s.buf = buf
	if err != nil {
		return nil // a unit the muxer cannot write is skipped, not fatal
	}
	s.pkts = s.pkts[:0]
	need := len(buf) + (len(buf)/rtpPayloadMax+1)*12
	if cap(s.pktBuf) < need {
		s.pktBuf = make([]byte, 0, need*2)
	}
	pb := s.pktBuf[:0]
	for off := 0; off < len(buf); off += rtpPayloadMax {
		end := min(off+rtpPayloadMax, len(buf))
		start := len(pb)
		pb = appendRTP(pb, s.pt, end == len(buf), s.seq, uint32(ts), s.ssrc, buf[off:end])
		s.pkts = append(s.pkts, pb[start:])
		s.seq++
	}
	n, err := s.w.write(s.pkts)
	if s.first.Load() == 0 && n > 0 {
		s.first.Store(int64(max(time.Since(s.invited), 1)))
	}
	s.packets.Add(uint64(len(s.pkts)))
	s.bytes.Add(uint64(n))
	s.stats.rtpPackets.Add(uint64(len(s.pkts)))
	s.stats.rtpBytes.Add(uint64(n))
	if s.r != nil {
		s.r.AddBytes(n)
	}
	return err
}

// appendRTP writes an RTP packet (RFC 3550 §5.1).
func appendRTP(dst []byte, pt uint8, marker bool, seq uint16, ts, ssrc uint32, payload []byte) []byte {
	b1 := pt
	if marker {
		b1 |= 0x80
	}
	dst = append(dst, 0x80, b1, byte(seq>>8), byte(seq), byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts),
		byte(ssrc>>24), byte(ssrc>>16), byte(ssrc>>8), byte(ssrc))
	return append(dst, payload...)
}
