package gbsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/skyrelay/skyrelay/gb28181/ps"
	"github.com/skyrelay/skyrelay/gb28181/sdp"
)

// rtpPayloadMax keeps RTP packets under a typical MTU.
const rtpPayloadMax = 1400

// call is one INVITE dialog and its media sender.
type call struct {
	d      *Device
	id     string
	dlg    *sipgo.DialogServerSession
	dst    string // media destination host:port
	tcp    bool
	ssrc   uint32
	acked  chan struct{}
	ackOne sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func (c *call) stop() {
	c.cancel()
	<-c.done
}

// onInvite answers a live INVITE (GB/T 28181-2016 §9.2.2.1): 200 with an
// SDP answer (sendonly, PS, the offer's y=; a=setup:active for a TCP
// offer), then media starts at the ACK.
func (d *Device) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	d.stats.invites.Add(1)
	if d.cfg.IgnoreInvites {
		tx.OnCancel(func(*sip.Request) { d.stats.cancels.Add(1); d.pulse() })
		d.pulse()
		// Returning would end the transaction, and a CANCEL would then
		// match nothing: hold it until the CANCEL (or Close) ends it.
		select {
		case <-tx.Done():
		case <-d.ctx.Done():
		}
		return
	}
	dlg, err := d.dlgs.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	off, err := sdp.Parse(req.Body())
	var v *sdp.Media
	if err == nil {
		v = off.Video()
	}
	if d.aus == nil || v == nil || off.Address() == "" || v.Port == 0 {
		_ = dlg.Respond(488, "Not Acceptable Here", nil)
		dlg.Close()
		return
	}
	ssrc, _ := off.SSRCValue()
	c := &call{d: d, id: req.CallID().Value(), dlg: dlg, dst: net.JoinHostPort(off.Address(), strconv.Itoa(v.Port)),
		tcp: v.IsTCP(), ssrc: ssrc, acked: make(chan struct{}), done: make(chan struct{})}
	if c.tcp && v.Setup == "active" {
		// The platform wants to dial us: not simulated.
		_ = dlg.Respond(488, "Not Acceptable Here", nil)
		dlg.Close()
		return
	}
	c.ctx, c.cancel = context.WithCancel(d.ctx)
	ans := &sdp.Session{
		Origin:     sdp.Origin{Username: d.cfg.DeviceID, SessionID: "0", SessionVersion: "0", NetType: "IN", AddrType: "IP4", Address: d.cfg.LocalIP},
		Name:       "Play",
		Connection: &sdp.Connection{NetType: "IN", AddrType: "IP4", Address: d.cfg.LocalIP},
		SSRC:       off.SSRC,
		HasFormat:  true,
	}
	m := sdp.Media{Type: "video", Port: 15060, Proto: "RTP/AVP", Formats: []string{"96"}, Direction: "sendonly",
		RTPMaps: []sdp.RTPMap{{PayloadType: 96, Encoding: "PS", ClockRate: 90000}}}
	if c.tcp {
		m.Proto, m.Setup, m.ConnMode = "TCP/RTP/AVP", "active", "new"
		m.Port = 9 // RFC 4145: the active side's port is the discard port
	}
	ans.Media = []sdp.Media{m}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		_ = dlg.Respond(503, "Service Unavailable", nil)
		dlg.Close()
		return
	}
	d.calls[c.id] = c
	d.lastCall = c
	d.mu.Unlock()
	if err := dlg.RespondSDP(ans.Marshal()); err != nil {
		d.endCall(c, err)
		return
	}
	d.wg.Add(1)
	go func() { defer d.wg.Done(); c.run() }()
	d.pulse()
}

func (d *Device) onAck(req *sip.Request, tx sip.ServerTransaction) {
	_ = d.dlgs.ReadAck(req, tx)
	d.mu.Lock()
	c := d.calls[req.CallID().Value()]
	d.mu.Unlock()
	if c != nil {
		c.ackOne.Do(func() { close(c.acked) })
	}
}

func (d *Device) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := d.dlgs.ReadBye(req, tx); err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	d.stats.byes.Add(1)
	d.mu.Lock()
	c := d.calls[req.CallID().Value()]
	d.mu.Unlock()
	if c != nil {
		c.cancel()
	}
}

func (d *Device) pulse() {
	select {
	case d.callsCh <- struct{}{}:
	default:
	}
}

func (d *Device) endCall(c *call, err error) {
	d.mu.Lock()
	delete(d.calls, c.id)
	d.mu.Unlock()
	c.err = err
	d.cfg.Log.Info("gbsim call ended", "device", d.cfg.DeviceID, "call", c.id, "error", err)
	c.dlg.Close()
	close(c.done)
	d.pulse()
}

// Calls is the number of calls up.
func (d *Device) Calls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}

// WaitCalls waits until n calls are up.
func (d *Device) WaitCalls(ctx context.Context, n int) error {
	for {
		if d.Calls() == n {
			return nil
		}
		select {
		case <-d.callsCh:
		case <-ctx.Done():
			return fmt.Errorf("gbsim: %d calls, want %d: %w", d.Calls(), n, ctx.Err())
		}
	}
}

// HangUp sends BYE on every call, as a device that stops streaming does.
func (d *Device) HangUp(ctx context.Context) error {
	d.mu.Lock()
	calls := make([]*call, 0, len(d.calls))
	for _, c := range d.calls {
		calls = append(calls, c)
	}
	d.mu.Unlock()
	var errs []error
	for _, c := range calls {
		errs = append(errs, c.dlg.Bye(ctx))
		c.stop()
	}
	return errors.Join(errs...)
}

// run waits for the ACK and sends the clip until the call ends.
func (c *call) run() {
	var err error
	defer func() { c.d.endCall(c, err) }()
	select {
	case <-c.acked:
	case <-c.ctx.Done():
		return
	case <-time.After(10 * time.Second):
		err = errors.New("no ACK")
		return
	}
	err = c.send()
}

// send writes the clip as PS (gb28181/ps muxer) over RTP: one datagram
// per packet over UDP, RFC 4571 frames over a TCP connection it dials.
func (c *call) send() error {
	var write func([]byte) error
	if c.tcp {
		dl := net.Dialer{Timeout: 5 * time.Second}
		conn, err := dl.DialContext(c.ctx, "tcp", c.dst)
		if err != nil {
			return err
		}
		defer conn.Close()
		// A write blocked on a full window ends with the call.
		go func() { <-c.ctx.Done(); conn.Close() }()
		var frame []byte
		write = func(pkt []byte) error {
			var err error
			if frame, err = ps.AppendFrame(frame[:0], pkt); err != nil {
				return err
			}
			_, err = conn.Write(frame)
			return err
		}
	} else {
		conn, err := net.Dial("udp", c.dst)
		if err != nil {
			return err
		}
		defer conn.Close()
		write = func(pkt []byte) error {
			_, err := conn.Write(pkt)
			if errors.Is(err, syscall.ECONNREFUSED) {
				// The platform closed its port (an ICMP "port unreachable"
				// came back): a camera keeps sending over UDP until BYE,
				// and ending the call here would answer that BYE with
				// 481, which a test then misses.
				return nil
			}
			return err
		}
	}

	mux := ps.Muxer{Video: ps.CodecH264}
	frameDur := time.Second / time.Duration(c.d.cfg.FPS)
	tick := int64(90000 / c.d.cfg.FPS)
	var seq uint16
	var buf, pkt []byte
	start := time.Now()
	for i := 0; ; i++ {
		au := c.d.aus[i%len(c.d.aus)]
		n := int64(i)
		if c.d.cfg.RestartClock {
			n = int64(i % len(c.d.aus))
		}
		pts := n*tick + 90000 // PES time starts at 1 s, as devices' do
		var err error
		buf, err = mux.AppendVideo(buf[:0], pts, pts, au.nalus, au.key)
		if err != nil {
			return err
		}
		for off := 0; off < len(buf); off += rtpPayloadMax {
			end := min(off+rtpPayloadMax, len(buf))
			pkt = appendRTP(pkt[:0], end == len(buf), seq, uint32(pts), c.ssrc, buf[off:end])
			seq++
			if err := write(pkt); err != nil {
				if c.ctx.Err() != nil {
					return nil
				}
				return err
			}
			c.d.stats.packets.Add(1)
			c.d.stats.bytes.Add(uint64(len(pkt)))
		}
		if c.d.cfg.Burst {
			if c.ctx.Err() != nil {
				return nil
			}
			continue
		}
		wait := time.Until(start.Add(time.Duration(i+1) * frameDur))
		select {
		case <-c.ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// appendRTP writes an RTP packet (RFC 3550 §5.1), payload type 96.
func appendRTP(dst []byte, marker bool, seq uint16, ts, ssrc uint32, payload []byte) []byte {
	b1 := byte(96)
	if marker {
		b1 |= 0x80
	}
	dst = append(dst, 0x80, b1, byte(seq>>8), byte(seq), byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts),
		byte(ssrc>>24), byte(ssrc>>16), byte(ssrc>>8), byte(ssrc))
	return append(dst, payload...)
}
