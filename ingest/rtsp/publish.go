package rtsp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/skyrelay/skyrelay/gateway"
)

// publisher is the state of an RTSP session that publishes (ANNOUNCE,
// SETUP with mode=record, RECORD).
type publisher struct {
	path   string
	remote string
	pub    *gateway.Publisher
	// track maps an announced format to its track in the stream; formats
	// the core does not carry are absent.
	track map[format.Format]int
}

// refusal is an error the server answered with a status and already
// logged; the connection closes after the response.
type refusal struct{ reason string }

func (r refusal) Error() string { return r.reason }

// refuse answers status with the reason as the status line's phrase, so
// that a client shows it (ffmpeg prints "method ANNOUNCE failed: 400 ...").
func refuse(status base.StatusCode, reason string) (*base.Response, error) {
	return &base.Response{StatusCode: status, StatusMessage: reason}, refusal{reason}
}

// onAnnounce authenticates a publisher and makes it the publisher of its
// path, from the tracks its SDP announces (RFC 2326 §10.3). Publishing here
// rather than at RECORD refuses a busy path before the client sets up.
func (s *Server) onAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	// gortsplib keeps the URL path's leading slash; stream paths have none.
	path := strings.TrimPrefix(ctx.Path, "/")
	remote := s.remote(ctx.Conn)
	log := s.Log.With("path", path, "remote", remote.String())
	if err := gateway.ValidPath(path); err != nil {
		log.Warn("RTSP publisher refused", "reason", err.Error())
		return refuse(base.StatusBadRequest, "Bad Request (invalid path)")
	}
	cred := presented(ctx.Request, ctx.Query)
	if err := s.Auth.CheckPublish(path, remote, cred); err != nil {
		if provided(cred) {
			log.Warn("RTSP publisher refused: wrong credential")
		} else {
			log.Debug("RTSP publisher challenged for a credential")
		}
		return unauthorized()
	}

	var tracks []*gateway.Track
	index := map[format.Format]int{}
	for _, m := range ctx.Description.Medias {
		t := trackOf(m, log)
		if t == nil {
			continue
		}
		index[t.Format] = len(tracks)
		tracks = append(tracks, t)
	}
	if len(tracks) == 0 {
		log.Warn("RTSP publisher refused: no supported track")
		return refuse(base.StatusUnsupportedMediaType, "Unsupported Media Type (no H.264, H.265, AAC, Opus or G.711 track)")
	}

	pub, err := s.Hub.Publish(path, gateway.SourceInfo{Protocol: "rtsp", RemoteAddr: remote.String()}, tracks)
	switch {
	case errors.Is(err, gateway.ErrPathBusy):
		log.Warn("RTSP publisher refused: the path already has a publisher")
		return refuse(base.StatusBadRequest, "Bad Request (path already has a publisher)")
	case err != nil:
		log.Warn("RTSP publisher refused", "reason", err.Error())
		return refuse(base.StatusBadRequest, "Bad Request ("+err.Error()+")")
	}
	ctx.Session.SetUserData(&publisher{path: path, remote: remote.String(), pub: pub, track: index})
	log.Info("RTSP publisher announced", "tracks", len(tracks))
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// trackOf picks the first format of m that the core carries. Others (data
// tracks, exotic codecs) are skipped so that the rest stays usable.
func trackOf(m *description.Media, log interface{ Info(string, ...any) }) *gateway.Track {
	for _, f := range m.Formats {
		t, err := gateway.TrackFor(f)
		if err == nil {
			return t
		}
		log.Info("RTSP publisher: skipping a track", "media", string(m.Type), "reason", err.Error())
	}
	return nil
}

// onRecord starts feeding the stream core with the publisher's RTP packets
// (RFC 2326 §10.11).
func (s *Server) onRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	p, _ := ctx.Session.UserData().(*publisher)
	if p == nil {
		return refuse(base.StatusBadRequest, "Bad Request (RECORD without ANNOUNCE)")
	}
	ss := ctx.Session
	for _, m := range ss.AnnouncedDescription().Medias {
		for _, f := range m.Formats {
			idx, ok := p.track[f]
			if !ok {
				// Not carried, but the bytes still came in.
				ss.OnPacketRTP(m, f, func(pkt *rtp.Packet) { p.pub.AddBytes(pkt.MarshalSize()) })
				continue
			}
			ss.OnPacketRTP(m, f, func(pkt *rtp.Packet) {
				p.pub.AddBytes(pkt.MarshalSize())
				// PacketPTS is relative to the session start and synchronised
				// across tracks (via RTCP sender reports when they come).
				pts, ok := ss.PacketPTS(m, pkt)
				if !ok {
					return
				}
				p.pub.WriteRTP(idx, pkt, pts)
			})
		}
	}
	s.Log.Info("RTSP publisher recording", "path", p.path, "remote", p.remote, "transport", transportName(ss))
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// close detaches the publisher: the stream keeps its readers for the hub's
// grace period, waiting for a publisher to come back.
func (p *publisher) close(s *Server, err error) {
	p.pub.Close()
	s.Log.Info("RTSP publisher stopped", "path", p.path, "remote", p.remote, "reason", reason(err))
}

func transportName(ss *gortsplib.ServerSession) string {
	if t := ss.Transport(); t != nil {
		return strings.ToLower(fmt.Sprint(t.Protocol))
	}
	return ""
}
