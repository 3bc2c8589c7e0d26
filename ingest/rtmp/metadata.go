package rtmp

import (
	"fmt"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"
)

// metadata is what onMetaData says about the tracks to expect. It is a
// hint only: FlightHub Sync sends none (mediamtx#3301), and DJI devices
// announce audio that never comes (go2rtc#1969).
type metadata struct {
	video, audio           bool   // a track we can carry is announced
	videoCodec, audioCodec string // as announced, for logs
}

// parseMetadata reads an onMetaData data message, sent either as
// ["onMetaData", {...}] or, by ffmpeg and OBS, as
// ["@setDataFrame", "onMetaData", {...}]. Other data messages (a dock's
// extra data track, onTextData, cue points) return false: they carry
// nothing a media output uses. An onMetaData that names no track returns
// nil, true: it hints nothing.
func parseMetadata(d amf0.Data) (*metadata, bool) {
	args := []interface{}(d)
	if len(args) > 0 && args[0] == "@setDataFrame" {
		args = args[1:]
	}
	if len(args) < 2 || args[0] != "onMetaData" {
		return nil, false
	}
	var obj amf0.Object
	switch o := args[1].(type) {
	case amf0.Object:
		obj = o
	case amf0.ECMAArray:
		obj = amf0.Object(o)
	default:
		return nil, false
	}
	m := &metadata{}
	known := false
	if v, ok := obj.Get("videocodecid"); ok {
		known = true
		m.videoCodec = fmt.Sprint(v)
		m.video = carriedVideo(v)
	} else if b, ok := obj.Get("hasVideo"); ok {
		known = true
		m.video, m.videoCodec = b == true, "unknown"
	}
	if v, ok := obj.Get("audiocodecid"); ok {
		known = true
		m.audioCodec = fmt.Sprint(v)
		m.audio = carriedAudio(v)
	} else if b, ok := obj.Get("hasAudio"); ok {
		known = true
		m.audio, m.audioCodec = b == true, "unknown"
	}
	if !known {
		// "Metadata doesn't contain any track" (FlightHub Sync,
		// mediamtx#3301): no hint at all, as if there were no onMetaData.
		return nil, true
	}
	return m, true
}

// carriedVideo tells whether an announced videocodecid is one we read:
// FLV codec id 7 (H.264) or an Enhanced RTMP FourCC (avc1, hvc1), as a
// number or a string. 0 means no video (gortmplib writes it that way).
func carriedVideo(v interface{}) bool {
	switch id := v.(type) {
	case float64:
		return id == message.CodecH264 || id == float64(message.FourCCAVC) || id == float64(message.FourCCHEVC)
	case string:
		return id == "avc1" || id == "hvc1"
	}
	return false
}

// carriedAudio tells whether an announced audiocodecid is one we read: FLV
// codec ids 10 (AAC), 7 and 8 (G.711), or the FourCCs mp4a and Opus. 0 is
// Linear PCM in the FLV spec but means "no audio" to gortmplib's writer;
// either way there is nothing to wait for.
func carriedAudio(v interface{}) bool {
	switch id := v.(type) {
	case float64:
		return id == message.CodecMPEG4Audio || id == message.CodecPCMA || id == message.CodecPCMU ||
			id == float64(message.FourCCMP4A) || id == float64(message.FourCCOpus)
	case string:
		return id == "mp4a" || id == "Opus"
	}
	return false
}
