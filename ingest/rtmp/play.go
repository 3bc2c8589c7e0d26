package rtmp

import (
	"context"
	"fmt"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"io"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/skyrelay/skyrelay/gateway"
)

// play serves a player until it hangs up or the stream ends.
func (c *conn) play(path string, cred authz.Credential) error {
	if err := c.s.Auth.AuthorizeRead(c.s.ctx, path, c.s.scheme(), c.remote, cred); err != nil {
		c.log.Warn("play refused", "reason", err)
		return c.refuse("NetStream.Play.Failed", err.Error())
	}
	ctx, cancel := context.WithTimeout(c.s.ctx, c.s.StartTimeout)
	st, err := c.s.Hub.Read(ctx, path)
	cancel()
	if err != nil {
		c.log.Info("play refused", "reason", err)
		return c.refuse("NetStream.Play.StreamNotFound", "no playable stream on this path")
	}
	p := newPlayer(c, st)
	if len(p.w.Tracks) == 0 {
		c.log.Info("play refused: no track RTMP can carry")
		return c.refuse("NetStream.Play.Failed", "no track RTMP can carry")
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.WriteTimeout))
	if err := writeHeader(p.w); err != nil {
		return err
	}
	if err := p.announceSingleTrack(); err != nil {
		return err
	}
	r := &gateway.Reader{Protocol: "rtmp", RemoteAddr: c.remote.String(), Handle: p.handle, SkipRTP: true}
	p.r = r
	if err := st.AddReader(r); err != nil {
		return err
	}
	defer r.Close()
	c.log.Info("playing")

	// What a player sends once it plays (acknowledgements, a pause we do
	// not honour) does not matter; reading it tells when the player hangs
	// up. Writes happen in the reader's goroutine only.
	_ = c.nc.SetReadDeadline(time.Time{})
	gone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, c.nc)
		close(gone)
	}()
	select {
	case <-r.Done():
		if r.Err() != nil {
			return fmt.Errorf("player: %w", r.Err())
		}
	case <-gone:
		c.log.Info("player left")
	}
	return nil
}

// writeHeader sends onMetaData and the sequence headers. gortmplib panics
// on an SPS it cannot parse; the core only keeps parsable ones, but a
// panic must never take the process with it.
func writeHeader(w *gortmplib.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("stream header: %v", r)
		}
	}()
	return w.Initialize()
}

// announceSingleTrack tells libavformat-based players (ffmpeg, ffplay,
// VLC) that a stream with one track has no other. Their FLV demuxer keeps
// probing for a second track for the whole analyzeduration (5 s) unless
// an onMetaData, parsed once the first track exists, gives the missing
// track's codec id as an empty object (libavformat/flvdec.c,
// amf_parse_object: "If there is either audio/video missing, codecid will
// be an empty object"). gortmplib's header sends onMetaData before the
// sequence headers, so this second one follows them.
func (p *player) announceSingleTrack() error {
	var video, audio bool
	for _, f := range p.w.Tracks {
		switch f.(type) {
		case *format.H264, *format.H265:
			video = true
		default:
			audio = true
		}
	}
	if video == audio {
		return nil
	}
	meta := amf0.Object{}
	if video {
		meta = append(meta, amf0.ObjectEntry{Key: "audiocodecid", Value: amf0.Object{}})
	} else {
		meta = append(meta, amf0.ObjectEntry{Key: "videocodecid", Value: amf0.Object{}})
	}
	return p.c.sc.Write(&message.DataAMF0{
		ChunkStreamID:   4,
		MessageStreamID: 0x1000000,
		Payload:         []interface{}{"@setDataFrame", "onMetaData", meta},
	})
}

// player writes a stream's frames to an RTMP player.
type player struct {
	c       *conn
	st      *gateway.Stream
	w       *gortmplib.Writer
	r       *gateway.Reader
	formats []format.Format // by track index; nil for a track not sent

	base    time.Duration // stream time of the first frame sent
	hasBase bool
	video   videoClock
	sent    uint64
}

// newPlayer picks the tracks to send: the first video and the first audio
// track, which is what RTMP players expect.
func newPlayer(c *conn, st *gateway.Stream) *player {
	p := &player{c: c, st: st, w: &gortmplib.Writer{Conn: c.sc}}
	var video, audio bool
	for _, t := range st.Tracks() {
		var f format.Format
		switch {
		case t.Codec.IsVideo() && !video:
			f, video = t.Format, true
		case !t.Codec.IsVideo() && !audio:
			f, audio = t.Format, true
		}
		p.formats = append(p.formats, f)
		if f != nil {
			p.w.Tracks = append(p.w.Tracks, f)
		}
	}
	return p
}

func (p *player) handle(fr gateway.Frame) error {
	i := fr.Track.Index
	if i < 0 || i >= len(p.formats) || p.formats[i] == nil {
		return nil
	}
	u := fr.Unit
	clock := fr.Track.ClockRate()
	pts := p.rel(toDuration(u.PTS, clock))
	_ = p.c.nc.SetWriteDeadline(time.Now().Add(p.c.s.WriteTimeout))
	var err error
	switch f := p.formats[i].(type) {
	case *format.H264:
		pts, dts := p.video.times(fr, pts, p.st.HasBFrames())
		err = p.w.WriteH264(f, pts, dts, u.Payload)
	case *format.H265:
		pts, dts := p.video.times(fr, pts, p.st.HasBFrames())
		err = p.w.WriteH265(f, pts, dts, u.Payload)
	case *format.MPEG4Audio:
		for k, au := range u.Payload {
			// A unit may hold several access units of 1024 samples each.
			err = p.w.WriteMPEG4Audio(f, pts+toDuration(int64(k)*1024, clock), au)
			if err != nil {
				break
			}
		}
	case *format.Opus:
		err = p.w.WriteOpus(f, pts, u.Payload[0])
	case *format.G711:
		err = p.w.WriteG711(f, pts, u.Payload[0])
	}
	if n := p.c.cc.out.Load(); n > p.sent {
		p.r.AddBytes(int(n - p.sent))
		p.sent = n
	}
	return err
}

// rel puts stream time on the player's timeline, which starts at 0 with
// the first frame sent.
func (p *player) rel(d time.Duration) time.Duration {
	if !p.hasBase {
		p.base, p.hasBase = d, true
	}
	return max(d-p.base, 0)
}

// toDuration converts ticks of a clock rate without overflowing for
// streams that run for days.
func toDuration(ticks int64, clock int) time.Duration {
	c := int64(clock)
	return time.Duration(ticks/c)*time.Second + time.Duration(ticks%c)*time.Second/time.Duration(c)
}

// videoClock gives video frames the DTS FLV needs: equal to the PTS
// without B-frames; from the bitstream (mediacommon's DTS extractor) with
// them. DTS never goes backwards and never passes the PTS.
type videoClock struct {
	x264    *h264.DTSExtractor
	x265    *h265.DTSExtractor
	lastDTS time.Duration
	started bool
}

func (v *videoClock) times(fr gateway.Frame, pts time.Duration, bframes bool) (time.Duration, time.Duration) {
	dts := pts
	if bframes {
		dts = v.extract(fr, pts)
	}
	dts = max(dts, 0)
	if v.started && dts < v.lastDTS {
		dts = v.lastDTS
	}
	v.lastDTS, v.started = dts, true
	return max(pts, dts), dts
}

func (v *videoClock) extract(fr gateway.Frame, pts time.Duration) time.Duration {
	u := fr.Unit
	if u.Key {
		switch fr.Track.Codec {
		case gateway.CodecH264:
			v.x264 = h264.NewDTSExtractor()
		case gateway.CodecH265:
			v.x265 = h265.NewDTSExtractor()
		}
	}
	var d int64
	var err error
	switch {
	case v.x264 != nil:
		d, err = v.x264.Extract(u.Payload, u.PTS)
	case v.x265 != nil:
		d, err = v.x265.Extract(u.Payload, u.PTS)
	default:
		return pts
	}
	if err != nil {
		// Start again at the next keyframe; until then DTS = PTS, kept
		// monotonic by the caller.
		v.x264, v.x265 = nil, nil
		return pts
	}
	return pts - toDuration(u.PTS-d, fr.Track.ClockRate())
}
