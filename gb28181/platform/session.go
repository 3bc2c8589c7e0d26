package platform

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gb28181/ps"
)

// Why sessions end.
var (
	ErrMediaTimeout = errors.New("gb28181: no media from the device")
	ErrByeFromPeer  = errors.New("gb28181: the device ended the session (BYE)")
	ErrByeLocal     = errors.New("gb28181: session ended by the platform (BYE)")
	ErrReplaced     = errors.New("gb28181: replaced by a new INVITE for the same channel")
)

// maxMediaConns bounds TCP media connections per session: the device's
// own, plus room for a reconnect.
const maxMediaConns = 4

// Session is one live-video dialog with a device channel and the ingest of
// its media.
type Session struct {
	ID        string // SIP Call-ID
	DeviceID  string
	ChannelID string
	Path      string
	Transport string // "udp" or "tcp" as offered
	SSRC      string // y= of the offer (10 digits)
	LocalPort int    // media port, UDP and TCP
	Started   time.Time

	p     *Platform
	dlg   *sipgo.DialogClientSession
	media *mediaListeners
	ing   *ingest

	lastPacket atomic.Int64 // unix ns
	pinned     atomic.Bool  // started through the API: no idle stop
	published  chan struct{}
	pubOnce    sync.Once
	done       chan struct{}
	endOnce    sync.Once
	readers    sync.WaitGroup

	mu         sync.Mutex // guards everything below and ing
	ended      bool
	err        error
	answerSSRC string
	remote     string // where the media comes from
	ssrcLocked bool
	packets    uint64
	bytes      uint64
	conns      map[net.Conn]struct{}
}

// SessionInfo describes a session for the API.
type SessionInfo struct {
	SessionID  string    `json:"session_id"`
	DeviceID   string    `json:"device_id"`
	ChannelID  string    `json:"channel_id"`
	Path       string    `json:"path"`
	Transport  string    `json:"transport"`
	SSRC       string    `json:"ssrc"`
	LocalPort  int       `json:"local_port"`
	RemoteAddr string    `json:"remote_addr"`
	Published  bool      `json:"published"`
	Started    time.Time `json:"started"`
	Packets    uint64    `json:"rtp_packets"`
	Lost       uint64    `json:"rtp_lost"`
	Reordered  uint64    `json:"rtp_reordered"`
	Bytes      uint64    `json:"bytes_received"`
	PSSkipped  uint64    `json:"ps_bytes_skipped"`
	VideoUnits uint64    `json:"video_units"`
	AudioUnits uint64    `json:"audio_frames"`
}

// Info describes the session now.
func (s *Session) Info() SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, ds := s.ing.rx.Stats(), s.ing.dmx.Stats()
	return SessionInfo{
		SessionID: s.ID, DeviceID: s.DeviceID, ChannelID: s.ChannelID, Path: s.Path, Transport: s.Transport,
		SSRC: s.SSRC, LocalPort: s.LocalPort, RemoteAddr: s.remote, Published: s.ing.pub != nil, Started: s.Started,
		Packets: rs.Packets, Lost: rs.Lost, Reordered: rs.Reordered, Bytes: s.bytes,
		PSSkipped: ds.SkippedBytes + ds.GarbageBytes, VideoUnits: ds.VideoAUs, AudioUnits: ds.AudioFrames,
	}
}

// Published is closed when the stream is on the hub (the first video key
// frame arrived).
func (s *Session) Published() <-chan struct{} { return s.published }

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err tells why the session ended, once Done is closed.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Bye ends the session, sending BYE to the device.
func (s *Session) Bye(ctx context.Context) error {
	s.end(ctx, true, ErrByeLocal)
	return nil
}

// source is the publisher's description for the hub.
func (s *Session) source() gateway.SourceInfo {
	return gateway.SourceInfo{Protocol: "gb28181", RemoteAddr: s.remote}
}

// start runs the media readers and the watchdog.
func (s *Session) start(dial string) {
	s.lastPacket.Store(time.Now().UnixNano())
	s.readers.Add(2)
	go s.readUDP()
	go s.acceptTCP()
	if dial != "" {
		s.readers.Add(1)
		go s.dialTCP(dial)
	}
	go s.watch()
}

func (s *Session) readUDP() {
	defer s.readers.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := s.media.udp.ReadFromUDP(buf)
		if err != nil {
			return
		}
		s.packet(buf[:n], from.String())
	}
}

// acceptTCP takes the device's connection(s) for TCP-passive media (RFC
// 4145: we offered a=setup:passive, the device connects).
func (s *Session) acceptTCP() {
	defer s.readers.Done()
	for {
		c, err := s.media.tcp.Accept()
		if err != nil {
			return
		}
		if !s.addConn(c) {
			c.Close()
			continue
		}
		s.readers.Add(1)
		go s.readTCP(c)
	}
}

// dialTCP connects to a device that answered a=setup:passive (it wants the
// platform to be the active side).
func (s *Session) dialTCP(addr string) {
	defer s.readers.Done()
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(s.p.ctx, "tcp", addr)
	if err != nil {
		s.p.Log.Warn("GB28181 media connection to the device failed", "session", s.ID, "address", addr, "error", err)
		return
	}
	if !s.addConn(c) {
		c.Close()
		return
	}
	s.readers.Add(1)
	go s.readTCP(c)
}

func (s *Session) addConn(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || len(s.conns) >= maxMediaConns {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// readTCP reads RFC 4571 frames (a 2-byte length before each RTP packet).
func (s *Session) readTCP(c net.Conn) {
	defer s.readers.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	fr := ps.NewFrameReader(c)
	from := c.RemoteAddr().String()
	for {
		pkt, err := fr.Next()
		if err != nil {
			return
		}
		s.packet(pkt, from)
	}
}

// packet feeds one RTP packet to the ingest.
func (s *Session) packet(b []byte, from string) {
	s.lastPacket.Store(time.Now().UnixNano())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	if s.remote == "" {
		s.remote = from
	}
	s.packets++
	s.bytes += uint64(len(b))
	// Lock onto the SSRC of the first RTP packet: devices do not always use
	// the y= of the offer, and a second sender on the port is noise.
	if !s.ssrcLocked && len(b) >= 12 && (b[1] < 192 || b[1] > 223) {
		if h, _, err := ps.ParseRTP(b); err == nil {
			s.ing.rx.SSRC, s.ssrcLocked = h.SSRC, true
			if strconv.FormatUint(uint64(h.SSRC), 10) != trimZeros(s.SSRC) && h.SSRC != 0 {
				s.p.Log.Debug("GB28181 device sends another SSRC than offered", "session", s.ID, "offered", s.SSRC, "ssrc", h.SSRC)
			}
		}
	}
	_ = s.ing.rx.WriteRTP(b)
	if s.ing.pub != nil {
		s.ing.pub.AddBytes(len(b))
	}
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

// watch ends a session whose media stopped (or never started).
func (s *Session) watch() {
	tick := min(s.p.MediaTimeout/4, time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.p.ctx.Done():
			return
		case <-t.C:
			if time.Since(time.Unix(0, s.lastPacket.Load())) > s.p.MediaTimeout {
				s.p.Log.Warn("GB28181 session without media: ending it", "session", s.ID, "device", s.DeviceID, "channel", s.ChannelID, "timeout", s.p.MediaTimeout)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				s.end(ctx, true, ErrMediaTimeout)
				cancel()
				return
			}
		}
	}
}

// end tears the session down once: media first (so the path is free at
// once), then BYE to the device when sendBye.
func (s *Session) end(ctx context.Context, sendBye bool, why error) {
	s.endOnce.Do(func() {
		s.mu.Lock()
		s.ended, s.err = true, why
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.media.close()
		s.readers.Wait()

		s.mu.Lock()
		s.ing.flush()
		s.ing.close()
		s.mu.Unlock()
		s.p.sessionGone(s)

		if sendBye && s.dlg != nil {
			if err := s.dlg.Bye(ctx); err != nil {
				s.p.Log.Debug("GB28181 BYE not confirmed", "session", s.ID, "error", err)
			}
		}
		if s.dlg != nil {
			s.dlg.Close()
		}
		s.p.Log.Info("GB28181 session ended", "session", s.ID, "device", s.DeviceID, "channel", s.ChannelID, "path", s.Path, "reason", why.Error())
		close(s.done)
	})
	<-s.done
}

// fail ends the session from inside the ingest (the path was busy): in its
// own goroutine, since the ingest runs under s.mu.
func (s *Session) fail(err error) {
	s.p.Log.Warn("GB28181 session cannot publish", "session", s.ID, "path", s.Path, "error", err)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.end(ctx, true, err)
	}()
}
