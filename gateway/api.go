package gateway

import (
	"net/http"
	"strings"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	h264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	h265 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// StreamInfo is a stream as GET /api/v1/streams shows it (docs/api.md).
type StreamInfo struct {
	Path          string       `json:"path"`
	Ready         bool         `json:"ready"`
	Online        bool         `json:"online"`
	Source        SourceInfo   `json:"source"`
	Tracks        []TrackInfo  `json:"tracks"`
	Readers       []ReaderInfo `json:"readers"`
	BytesReceived uint64       `json:"bytes_received"`
	BytesSent     uint64       `json:"bytes_sent"`
	Reconnects    uint64       `json:"publisher_reconnects"`
}

// TrackInfo is one track of a StreamInfo.
type TrackInfo struct {
	Codec  Codec `json:"codec"`
	Width  int   `json:"width,omitempty"`
	Height int   `json:"height,omitempty"`
}

// ReaderInfo is one reader of a StreamInfo.
type ReaderInfo struct {
	Protocol   string `json:"protocol"`
	RemoteAddr string `json:"remote_addr"`
	Dropped    uint64 `json:"frames_dropped"`
}

// Info describes the stream now.
func (s *Stream) Info() StreamInfo {
	src, online := s.Source()
	in := StreamInfo{Path: s.path, Ready: s.isReady.Load(), Online: online, Source: src,
		BytesReceived: s.BytesReceived(), BytesSent: s.BytesSent(), Reconnects: s.reconnects.Load(),
		Tracks: []TrackInfo{}, Readers: []ReaderInfo{}}
	for _, t := range s.tracks {
		ti := TrackInfo{Codec: t.Codec}
		ti.Width, ti.Height = dimensions(t)
		in.Tracks = append(in.Tracks, ti)
	}
	for _, r := range s.Readers() {
		in.Readers = append(in.Readers, ReaderInfo{Protocol: r.Protocol, RemoteAddr: r.RemoteAddr, Dropped: r.Dropped()})
	}
	return in
}

// dimensions reads the picture size from the current SPS.
func dimensions(t *Track) (int, int) {
	switch f := t.Format.(type) {
	case *format.H264:
		sps, _ := f.SafeParams()
		var s h264.SPS
		if sps != nil && s.Unmarshal(sps) == nil {
			return s.Width(), s.Height()
		}
	case *format.H265:
		_, sps, _ := f.SafeParams()
		var s h265.SPS
		if sps != nil && s.Unmarshal(sps) == nil {
			return s.Width(), s.Height()
		}
	}
	return 0, 0
}

// Routes are the stream API's routes, for the one HTTP router:
// GET /api/v1/streams and GET /api/v1/streams/{path...}.
func (h *Hub) Routes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{"GET /api/v1/streams": func(w http.ResponseWriter, _ *http.Request) {
		items := []StreamInfo{}
		for _, s := range h.Streams() {
			items = append(items, s.Info())
		}
		WriteJSON(w, http.StatusOK, map[string]any{"items": items})
	}, "GET /api/v1/streams/{path...}": func(w http.ResponseWriter, r *http.Request) {
		p := strings.Trim(r.PathValue("path"), "/")
		s := h.Stream(p)
		if s == nil {
			WriteError(w, http.StatusNotFound, "not_found", "no stream on path "+p)
			return
		}
		WriteJSON(w, http.StatusOK, s.Info())
	}}
}
