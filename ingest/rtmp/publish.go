package rtmp

import (
	"errors"
	"fmt"
	"github.com/skyrelay/skyrelay/gateway/authz"
	"time"

	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/skyrelay/skyrelay/gateway"
)

// Bounds of the frames kept while tracks are being detected: a publisher
// that sends tags of one kind only for this long starts its stream anyway.
const (
	maxPendingFrames = 256
	maxPendingBytes  = 8 << 20
)

type kind int

const (
	kindVideo kind = iota
	kindAudio
)

// frame is one access unit as read from the publisher, timestamps in
// milliseconds on the track's timeline.
type frame struct {
	kind     kind
	pts, dts time.Duration
	payload  [][]byte
	params   bool // only parameter sets, from a repeated sequence header
}

// slot is the video or the audio track of a publisher as its tags reveal
// it.
type slot struct {
	name string // "video" or "audio", for logs
	// format is nil until a sequence header or the first frame says which
	// codec this is.
	format format.Format
	codec  gateway.Codec
	// unsupported names a codec that came but that we cannot carry: the
	// stream goes on without this track, and nobody waits for it.
	unsupported string
	lengthSize  int // bytes of a NAL unit's length prefix (video)
	multitrack  int // the Enhanced RTMP track id followed, -1 until one is seen
	tl          timeline

	track  *gateway.Track // once publishing, if this track is carried
	index  int            // the track's index in the publisher
	warned map[string]bool
}

// warnOnce logs a condition of this track once per connection.
func (s *slot) warnOnce(p *publisher, key, msg string, args ...any) {
	if s.warned == nil {
		s.warned = map[string]bool{}
	}
	if s.warned[key] {
		return
	}
	s.warned[key] = true
	p.c.log.Warn(msg, append([]any{"track", s.name}, args...)...)
}

// publisher is the publishing side of a connection.
type publisher struct {
	c     *conn
	path  string
	video slot
	audio slot
	meta  *metadata

	// Until the stream starts: frames kept, and when the first came.
	pending      []frame
	pendingBytes int
	firstWall    time.Time
	firstDTS     time.Duration
	lastDTS      time.Duration
	hasFrame     bool

	pub     *gateway.Publisher
	counted uint64 // bytes already passed to pub.AddBytes
}

// publish serves a publishing connection until it ends.
func (c *conn) publish(path string, cred authz.Credential) error {
	if err := gateway.ValidPath(path); err != nil {
		c.log.Warn("publish refused: invalid path")
		return c.refuse("NetStream.Publish.BadName", "invalid stream path")
	}
	if err := c.s.Auth.CheckPublish(path, c.remote, cred); err != nil {
		c.log.Warn("publish refused", "reason", err)
		return c.refuse("NetStream.Publish.Unauthorized", err.Error())
	}
	if st := c.s.Hub.Stream(path); st != nil {
		if _, online := st.Source(); online {
			return c.refuseBusy()
		}
	}
	p := &publisher{
		c:     c,
		path:  path,
		video: slot{name: "video", multitrack: -1},
		audio: slot{name: "audio", multitrack: -1},
	}
	defer p.close()
	for {
		msg, err := c.readMessage()
		if err != nil {
			return err
		}
		if p.handle(msg) {
			c.log.Info("publisher ended the stream")
			return nil
		}
		if p.pub == nil && p.ready(time.Now()) {
			if err := p.start(); err != nil {
				return err
			}
		}
		p.countBytes()
	}
}

func (c *conn) refuseBusy() error {
	c.log.Warn("publish refused: the path already has a publisher")
	return c.refuse("NetStream.Publish.BadName", "stream path already has a publisher")
}

// handle takes one message; it reports true when the publisher ends its
// stream.
func (p *publisher) handle(msg message.Message) bool {
	switch m := msg.(type) {
	case *message.CommandAMF0:
		switch m.Name {
		case "deleteStream", "closeStream", "FCUnpublish":
			return true
		}
	case *message.DataAMF0:
		if meta, ok := parseMetadata(m.Payload); ok && meta != nil && p.meta == nil && p.pub == nil {
			p.meta = meta
			p.c.log.Debug("onMetaData", "video", meta.videoCodec, "audio", meta.audioCodec)
		}
		// Any other data message is a data track (DJI's "Stream Data"):
		// nothing a media output uses.
	case *message.Video, *message.VideoExSequenceStart, *message.VideoExCodedFrames,
		*message.VideoExFramesX, *message.VideoExMultitrack:
		p.onVideo(msg)
	case *message.Audio, *message.AudioExSequenceStart, *message.AudioExCodedFrames,
		*message.AudioExMultitrack:
		p.onAudio(msg)
	}
	return false
}

// queue hands a frame to the stream, or keeps it while tracks are being
// detected.
func (p *publisher) queue(f frame) {
	if p.pub != nil {
		p.deliver(f)
		return
	}
	if !f.params {
		if !p.hasFrame {
			p.hasFrame, p.firstWall, p.firstDTS = true, time.Now(), f.dts
		}
		p.lastDTS = f.dts
	}
	p.pending = append(p.pending, f)
	for _, b := range f.payload {
		p.pendingBytes += len(b)
	}
}

// ready tells whether the tracks are known well enough to start the
// stream: a frame came, and no track we can carry is still expected, or
// TrackWait passed since the first frame (in wall time, or in media time
// for a publisher that sends a burst).
func (p *publisher) ready(now time.Time) bool {
	if !p.hasFrame || (p.video.format == nil && p.audio.format == nil) {
		return false
	}
	if len(p.pending) >= maxPendingFrames || p.pendingBytes >= maxPendingBytes {
		return true
	}
	wantVideo, wantAudio := true, true
	if p.meta != nil {
		wantVideo, wantAudio = p.meta.video, p.meta.audio
	}
	if !p.video.mayCome(wantVideo) && !p.audio.mayCome(wantAudio) {
		return true
	}
	wait := p.c.s.TrackWait
	return wait < 0 || now.Sub(p.firstWall) >= wait || p.lastDTS-p.firstDTS >= wait
}

// mayCome tells whether a track still missing may show up.
func (s *slot) mayCome(want bool) bool {
	return want && s.format == nil && s.unsupported == ""
}

// start publishes the tracks found and hands over the frames kept.
func (p *publisher) start() error {
	var tracks []*gateway.Track
	var codecs []string
	for _, s := range []*slot{&p.video, &p.audio} {
		if s.format == nil {
			continue
		}
		t, err := gateway.TrackFor(s.format)
		if err != nil {
			s.warnOnce(p, "codec", "track not carried", "reason", err)
			continue
		}
		s.track, s.index = t, len(tracks)
		tracks = append(tracks, t)
		codecs = append(codecs, string(t.Codec))
	}
	pub, err := p.c.s.Hub.Publish(p.path, gateway.SourceInfo{Protocol: "rtmp", RemoteAddr: p.c.remote.String()}, tracks)
	if errors.Is(err, gateway.ErrPathBusy) {
		return p.c.refuseBusy()
	}
	if err != nil {
		p.c.log.Warn("publish refused", "reason", err)
		return p.c.refuse("NetStream.Publish.BadName", err.Error())
	}
	p.pub = pub
	missing := []string{}
	if p.video.track == nil {
		missing = append(missing, "video")
	}
	if p.audio.track == nil {
		missing = append(missing, "audio")
	}
	p.c.log.Info("publishing", "tracks", codecs, "without", missing,
		"detected_in", time.Since(p.firstWall).Round(time.Millisecond))
	pending := p.pending
	p.pending, p.pendingBytes = nil, 0
	for _, f := range pending {
		p.deliver(f)
	}
	return nil
}

// deliver writes a frame to the stream, in the track's clock rate.
func (p *publisher) deliver(f frame) {
	s := &p.video
	if f.kind == kindAudio {
		s = &p.audio
	}
	if s.track == nil {
		if s.format != nil && s.unsupported == "" {
			// Tracks are fixed when the stream starts; one that shows up
			// later is left out rather than restarting every reader.
			s.warnOnce(p, "late", "track appeared after the stream started; the stream goes on without it")
		}
		return
	}
	clock := int64(s.track.ClockRate())
	pts := f.pts.Milliseconds() * clock / 1000
	if f.kind == kindVideo {
		p.pub.WriteUnitDTS(s.index, pts, f.dts.Milliseconds()*clock/1000, f.payload)
		return
	}
	p.pub.WriteUnit(s.index, pts, f.payload)
}

func (p *publisher) countBytes() {
	if p.pub == nil {
		return
	}
	n := p.c.cc.in.Load()
	if d := n - p.counted; d > 0 {
		p.pub.AddBytes(int(d))
		p.counted = n
	}
}

func (p *publisher) close() {
	if p.pub != nil {
		p.countBytes()
		p.pub.Close()
	}
}

// unsupported marks a track whose codec we cannot carry.
func (p *publisher) unsupported(s *slot, codec string) {
	if s.format != nil {
		return
	}
	if s.unsupported == "" {
		s.unsupported = codec
		s.warnOnce(p, "unsupported", "codec not supported; the stream goes on without this track", "codec", codec)
	}
}

// codecChanged drops tags of a codec other than the one the track started
// with.
func (p *publisher) codecChanged(s *slot, codec gateway.Codec) {
	s.warnOnce(p, "changed:"+string(codec), "codec changed in the middle of the stream; ignoring the new one",
		"was", s.codec, "now", codec)
}

func fourCCName(c message.FourCC) string {
	b := []byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)}
	for _, x := range b {
		if x < 0x20 || x > 0x7e {
			return fmt.Sprintf("0x%08x", uint32(c))
		}
	}
	return string(b)
}
