package rtsppull

import (
	"errors"
	"log/slog"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"github.com/skyrelay/skyrelay/gateway"
)

// feed maps what a server DESCRIBEs onto stream tracks: the first format
// of each media the core carries; data tracks and exotic codecs are
// skipped so that the rest stays usable.
type feed struct {
	medias  []*description.Media
	formats []format.Format
	tracks  []*gateway.Track
}

// errNoTrack refuses a server with nothing the core can carry.
var errNoTrack = errors.New("the server offers no H.264, H.265, AAC, Opus or G.711 track")

func newFeed(desc *description.Session, log *slog.Logger) (*feed, error) {
	f := &feed{}
	for _, m := range desc.Medias {
		for _, fo := range m.Formats {
			t, err := gateway.TrackFor(fo)
			if err != nil {
				log.Debug("RTSP pull: skipping a format", "media", string(m.Type), "reason", err.Error())
				continue
			}
			f.medias = append(f.medias, m)
			f.formats = append(f.formats, fo)
			f.tracks = append(f.tracks, t)
			break
		}
	}
	if len(f.tracks) == 0 {
		return nil, errNoTrack
	}
	return f, nil
}

// attach routes each set-up format's RTP packets into the publisher, with
// the PTS gortsplib derives (relative to the session, synchronised across
// tracks by RTCP sender reports when they come).
func (f *feed) attach(c *gortsplib.Client, pub *gateway.Publisher) {
	for i := range f.medias {
		m, fo, idx := f.medias[i], f.formats[i], i
		c.OnPacketRTP(m, fo, func(pkt *rtp.Packet) {
			pub.AddBytes(pkt.MarshalSize())
			pts, ok := c.PacketPTS(m, pkt)
			if !ok {
				return
			}
			pub.WriteRTP(idx, pkt, pts)
		})
	}
}
