package rtsp

import (
	"bytes"
	"errors"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/skyrelay/skyrelay/gateway"
)

// lingerTime closes an output that a DESCRIBE made but no session set up:
// a client that only asks for the SDP must not leave packets being
// marshalled for nobody.
const lingerTime = 15 * time.Second

var errServerClosed = errors.New("server closed")

// output is the RTSP side of one stream: a gortsplib ServerStream shared by
// every RTSP reader of the path, fed by a sink on the stream.
type output struct {
	path   string
	stream *gateway.Stream
	st     *gortsplib.ServerStream
	sink   *sink

	// guarded by Server.mu
	sessions int // reader sessions set up on st
	closed   bool
	linger   *time.Timer
}

// output returns the output of stream, making it on the first RTSP reader.
// An output of an earlier stream on the same path (ended, replaced) is left
// to its sessions, which its stream's end closes.
func (s *Server) output(stream *gateway.Stream) (*output, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errServerClosed
	}
	path := stream.Path()
	if o := s.outputs[path]; o != nil && o.stream == stream && !o.closed {
		if o.sessions == 0 {
			o.linger.Reset(lingerTime)
		}
		return o, nil
	}
	o, err := newOutput(s.srv, stream)
	if err != nil {
		return nil, err
	}
	s.outputs[path] = o
	o.linger = time.AfterFunc(lingerTime, func() { s.releaseIfUnused(o) })
	// Under s.mu so that a concurrent close cannot run before it. The
	// stream never calls back into the server with its own lock held other
	// than through the sink, which takes no lock of ours.
	stream.AddSink(o.sink)
	s.Log.Debug("RTSP output opened", "path", path)
	return o, nil
}

// attach counts a reader session on o; false when o is closed.
func (s *Server) attach(o *output) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.closed {
		return false
	}
	o.sessions++
	o.linger.Stop()
	return true
}

// detach uncounts a reader session and closes o after its last one.
func (s *Server) detach(o *output) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o.sessions--
	if o.sessions <= 0 {
		s.closeOutputLocked(o)
	}
}

func (s *Server) releaseIfUnused(o *output) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.sessions <= 0 {
		s.closeOutputLocked(o)
	}
}

// closeOutput ends o and every session reading it (the stream ended).
func (s *Server) closeOutput(o *output) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeOutputLocked(o)
}

func (s *Server) closeOutputLocked(o *output) {
	if o.closed {
		return
	}
	o.closed = true
	if s.outputs[o.path] == o {
		delete(s.outputs, o.path)
	}
	o.close()
	s.Log.Debug("RTSP output closed", "path", o.path)
}

// close detaches the sink and closes the ServerStream, which closes the
// sessions still on it.
func (o *output) close() {
	o.linger.Stop()
	o.stream.RemoveSink(o.sink)
	o.st.Close()
}

// newOutput describes stream's tracks to RTSP readers. The description
// carries the current parameter sets; the sink keeps them current.
func newOutput(srv *gortsplib.Server, stream *gateway.Stream) (*output, error) {
	tracks := stream.Tracks()
	desc := &description.Session{Title: "Skyrelay " + stream.Path()}
	k := &sink{
		medias:  make([]*description.Media, len(tracks)),
		pt:      make([]uint8, len(tracks)),
		refresh: make([]func() bool, len(tracks)),
	}
	for i, t := range tracks {
		f, refresh := ownFormat(t.Format)
		m := &description.Media{Type: t.Media.Type, Formats: []format.Format{f}}
		desc.Medias = append(desc.Medias, m)
		k.medias[i], k.pt[i], k.refresh[i] = m, f.PayloadType(), refresh
	}
	st := &gortsplib.ServerStream{Server: srv, Desc: desc}
	if err := st.Initialize(); err != nil {
		return nil, err
	}
	k.st = st
	return &output{path: stream.Path(), stream: stream, st: st, sink: k}, nil
}

// ownFormat gives the ServerStream a format of its own for video, so that
// its parameter sets change only when the sink says so (ServerStream copies
// formats without their lock), and a refresh that copies the track's current
// parameter sets into it. Audio formats never change and are shared.
//
// Packetization mode 1 is what the core's H.264 packetiser makes (FU-A,
// STAP-A), whatever the publisher announced.
func ownFormat(f format.Format) (format.Format, func() bool) {
	switch src := f.(type) {
	case *format.H264:
		sps, pps := src.SafeParams()
		own := &format.H264{PayloadTyp: src.PayloadTyp, SPS: sps, PPS: pps, PacketizationMode: 1}
		return own, func() bool {
			sps, pps := src.SafeParams()
			osps, opps := own.SafeParams()
			if bytes.Equal(sps, osps) && bytes.Equal(pps, opps) {
				return false
			}
			own.SafeSetParams(sps, pps)
			return true
		}
	case *format.H265:
		vps, sps, pps := src.SafeParams()
		own := &format.H265{PayloadTyp: src.PayloadTyp, VPS: vps, SPS: sps, PPS: pps}
		return own, func() bool {
			vps, sps, pps := src.SafeParams()
			ovps, osps, opps := own.SafeParams()
			if bytes.Equal(vps, ovps) && bytes.Equal(sps, osps) && bytes.Equal(pps, opps) {
				return false
			}
			own.SafeSetParams(vps, sps, pps)
			return true
		}
	}
	return f, nil
}
