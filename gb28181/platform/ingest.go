package platform

import (
	"log/slog"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gb28181/ps"
)

// ingest turns the PS-over-RTP of one session into a stream of the hub:
// RTP reorder → PS demuxer → access units with their 90 kHz PES timestamps
// → Publisher. It is not safe for concurrent use; the session's mutex
// guards it.
type ingest struct {
	hub         *gateway.Hub
	path        string
	src         func() gateway.SourceInfo
	log         *slog.Logger
	onPublished func()
	onFail      func(error)

	rx  ps.RTPReceiver
	dmx ps.Demuxer

	pub        *gateway.Publisher
	videoCodec ps.Codec
	audioCodec ps.Codec      // of the published audio track
	audioFmt   format.Format // first audio seen before the stream was published
	audioFirst ps.Codec
	audioRate  int
	audioIdx   int // track index of the audio, -1 without
	waitKey    bool
	failed     bool

	stats ingestStats
}

// ingestStats counts what the ingest dropped on purpose.
type ingestStats struct {
	VideoBeforeKey uint64 // video units before the first key frame
	VideoAfterLoss uint64 // video units after a loss, until the next key frame
	OtherCodec     uint64 // units of a codec other than the published one
	AudioLeftOut   uint64 // audio frames of a stream that had no audio track when published
	AudioUnknown   uint64 // audio frames of a codec the hub does not carry
}

func newIngest(hub *gateway.Hub, path string, log *slog.Logger) *ingest {
	in := &ingest{hub: hub, path: path, log: log, audioIdx: -1}
	in.dmx.OnVideo = in.video
	in.dmx.OnAudio = in.audio
	in.rx.Demuxer = &in.dmx
	return in
}

// video handles one access unit; the demuxer reuses au after return.
func (in *ingest) video(au *ps.VideoAU) {
	if in.failed {
		return
	}
	if in.pub == nil {
		if !au.Key {
			in.stats.VideoBeforeKey++
			return
		}
		if !in.publish(au) {
			return
		}
	}
	if au.Codec != in.videoCodec {
		if in.stats.OtherCodec == 0 {
			in.log.Warn("GB28181 video codec changed mid-stream: units dropped", "path", in.path, "was", in.videoCodec.String(), "now", au.Codec.String())
		}
		in.stats.OtherCodec++
		return
	}
	if au.Discontinuity {
		in.waitKey = true
	}
	if in.waitKey {
		if !au.Key {
			// Pictures after a loss refer to what was lost: wait for the
			// next key frame rather than hand readers broken video.
			in.stats.VideoAfterLoss++
			return
		}
		in.waitKey = false
	}
	c := au.Clone() // the hub keeps the payload; the demuxer reuses it
	in.pub.WriteUnitDTS(0, c.PTS, c.DTS, c.NALUs)
}

// publish makes the stream at the first key frame, with the audio track if
// audio came before it.
func (in *ingest) publish(au *ps.VideoAU) bool {
	vt, err := gateway.TrackFor(videoFormat(au))
	if err != nil {
		in.fail(err)
		return false
	}
	tracks := []*gateway.Track{vt}
	if in.audioFmt != nil {
		if at, err := gateway.TrackFor(in.audioFmt); err == nil {
			tracks = append(tracks, at)
			in.audioIdx, in.audioCodec = 1, in.audioFirst
		}
	}
	pub, err := in.hub.Publish(in.path, in.src(), tracks)
	if err != nil {
		in.fail(err)
		return false
	}
	in.pub, in.videoCodec = pub, au.Codec
	in.log.Info("GB28181 stream published", "path", in.path, "video", au.Codec.String(), "audio", in.audioCodec.String())
	if in.onPublished != nil {
		in.onPublished()
	}
	return true
}

func (in *ingest) fail(err error) {
	in.failed = true
	if in.onFail != nil {
		in.onFail(err)
	}
}

// audio handles one audio frame; the demuxer reuses f after return.
func (in *ingest) audio(f *ps.AudioFrame) {
	if in.failed {
		return
	}
	if in.pub == nil {
		if in.audioFmt == nil && in.audioFirst == ps.CodecUnknown {
			in.audioFirst = f.Codec
			in.audioFmt, in.audioRate = audioFormat(f)
			if in.audioFmt == nil {
				in.stats.AudioUnknown++
			}
		}
		return
	}
	if in.audioIdx < 0 {
		if in.stats.AudioLeftOut == 0 {
			in.log.Info("GB28181 audio appeared after the stream was published: left out", "path", in.path, "codec", f.Codec.String())
		}
		in.stats.AudioLeftOut++
		return
	}
	if f.Codec != in.audioCodec {
		in.stats.OtherCodec++
		return
	}
	pts := f.PTS * int64(in.audioRate) / 90000
	in.pub.WriteUnit(in.audioIdx, pts, [][]byte{append([]byte(nil), f.Data...)})
}

// flush hands out what waits in the reorder window and the demuxer.
func (in *ingest) flush() { in.rx.Flush() }

// close ends the publisher; the hub keeps the stream for its grace period.
func (in *ingest) close() {
	if in.pub != nil {
		in.pub.Close()
	}
}

// videoFormat describes the video track, with the parameter sets of the
// key frame when it carries them (the hub tracks later changes in band).
func videoFormat(au *ps.VideoAU) format.Format {
	if au.Codec == ps.CodecH265 {
		f := &format.H265{PayloadTyp: 96}
		for _, n := range au.NALUs {
			if len(n) < 2 {
				continue
			}
			switch (n[0] >> 1) & 0x3F {
			case 32:
				f.VPS = append([]byte(nil), n...)
			case 33:
				f.SPS = append([]byte(nil), n...)
			case 34:
				f.PPS = append([]byte(nil), n...)
			}
		}
		return f
	}
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	for _, n := range au.NALUs {
		if len(n) < 1 {
			continue
		}
		switch n[0] & 0x1F {
		case 7:
			f.SPS = append([]byte(nil), n...)
		case 8:
			f.PPS = append([]byte(nil), n...)
		}
	}
	return f
}

// audioFormat describes an audio track and its clock rate, or nil for
// codecs the hub does not carry.
func audioFormat(f *ps.AudioFrame) (format.Format, int) {
	switch f.Codec {
	case ps.CodecAAC:
		c := f.AACConfig()
		if c == nil || c.SampleRate <= 0 {
			return nil, 0
		}
		return &format.MPEG4Audio{PayloadTyp: 97, Config: c, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}, c.SampleRate
	case ps.CodecG711A:
		return &format.G711{PayloadTyp: 8, SampleRate: 8000, ChannelCount: 1}, 8000
	case ps.CodecG711U:
		return &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}, 8000
	}
	return nil, 0
}
