package webrtc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
)

// whepSession is one viewer: a PeerConnection and, once it is connected, a
// gateway.Reader feeding it. It lives in its own goroutine until the viewer
// leaves (DELETE, ICE consent lost), the stream ends, or the server closes.
type whepSession struct {
	session
	stream *gateway.Stream
	fwd    *forwarder
}

// startWHEP builds the peer for a plan, answers the offer and starts the
// session. The answer is returned only after ICE gathering completed.
func (s *Server) startWHEP(ctx context.Context, path, remote string, st *gateway.Stream, pl *whepPlan, offerSDP string) (*whepSession, string, error) {
	p, err := s.net.newPeer(pl.codecs(), true)
	if err != nil {
		return nil, "", err
	}
	fwd := &forwarder{stream: st, out: s.net.batch, to: &p.udpRemote}
	streamID := "skyrelay"
	if pl.video != nil {
		local, err := p.addSendTrack(pl.video, streamID)
		if err != nil {
			p.close()
			return nil, "", err
		}
		fwd.video = newOutTrack(pl.video.src, local)
		fwd.timing.clock = float64(pl.video.src.ClockRate())
	}
	if pl.audio != nil {
		local, err := p.addSendTrack(pl.audio, streamID)
		if err != nil {
			p.close()
			return nil, "", err
		}
		if pl.audio.src != nil {
			fwd.audio = newOutTrack(pl.audio.src, local)
		}
	}
	gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	answer, err := p.answer(gctx, offerSDP)
	cancel()
	if err != nil {
		p.close()
		return nil, "", err
	}
	x := &whepSession{stream: st, fwd: fwd}
	x.init(s, path, remote, p, "session")
	fwd.stop = x.stopCh
	if err := x.admit(answer, pl.notes, func() { s.wheps[x.id] = x }); err != nil {
		p.close()
		return nil, "", err
	}
	go x.run()
	return x, answer, nil
}

func (x *whepSession) run() {
	defer x.srv.wg.Done()
	defer close(x.done)
	defer x.srv.forgetWHEP(x.id)

	t := time.NewTimer(x.srv.HandshakeTimeout)
	defer t.Stop()
	select {
	case <-x.peer.connected:
	case <-x.peer.gone:
		x.stop("connection failed before it was established")
	case <-t.C:
		x.stop(fmt.Sprintf("ICE/DTLS not connected within %s: check the announced addresses %v", x.srv.HandshakeTimeout, x.srv.ICEAddresses()))
	case <-x.stopCh:
	}
	select {
	case <-x.stopCh:
		x.peer.close()
		x.log.Info("webrtc viewer ended", "reason", x.endReason())
		return
	default:
	}
	connectedAt := time.Now()
	x.log.Info("webrtc viewer connected", "pair", x.peer.selectedPair(), "after", connectedAt.Sub(x.created).Round(time.Millisecond))

	r := &gateway.Reader{Protocol: "webrtc", RemoteAddr: x.remote, QueueSize: x.srv.QueueSize,
		Handle: x.fwd.handle, Plays: x.fwd.plays}
	x.fwd.reader = r
	if err := x.stream.AddReader(r); err != nil {
		x.stop("stream: " + err.Error())
	} else {
		select {
		case <-r.Done():
			switch err := r.Err(); {
			case err == nil:
				x.stop("reader closed")
			case errors.Is(err, gateway.ErrStreamGone):
				x.stop("the stream ended")
			default:
				x.stop(err.Error())
			}
		case <-x.peer.gone:
			x.stop("connection closed or lost")
		case <-x.stopCh:
		}
		r.Close()
	}
	x.peer.close()
	f := x.fwd
	attrs := []any{"reason", x.endReason(), "duration", time.Since(connectedAt).Round(time.Millisecond),
		"bytes", f.bytes.Load(), "batched_units", f.batched.Load(), "dropped_frames", r.Dropped(),
		"nacks", x.peer.counts.nacks.Load(), "retransmitted", x.peer.counts.retransmitted.Load(), "plis", x.peer.counts.plis.Load()}
	if first := f.firstSent.Load(); first != 0 {
		attrs = append(attrs, "first_frame_after_connect", time.Duration(first-connectedAt.UnixNano()).Round(time.Millisecond))
	}
	if live := f.liveAt.Load(); live != 0 {
		attrs = append(attrs, "live_after_connect", time.Duration(live-connectedAt.UnixNano()).Round(time.Millisecond), "backlog_frames", f.backlogged.Load())
	}
	x.log.Info("webrtc viewer ended", attrs...)
}
