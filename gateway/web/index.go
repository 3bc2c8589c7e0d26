package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/skyrelay/skyrelay/gateway"
)

// streamRow is one line of the stream list.
type streamRow struct {
	Path     string
	State    string
	Source   string
	Tracks   []string
	Readers  int
	ReadList string
}

// cameraRow is one line of the camera list.
type cameraRow struct {
	Camera
	Live bool
}

// serveIndex renders the list of live streams from the hub, as it is now.
func (p *Pages) serveIndex(w http.ResponseWriter, r *http.Request) {
	var rows []streamRow
	live := map[string]bool{}
	for _, s := range p.Hub.Streams() {
		rows = append(rows, rowOf(s.Info()))
		live[s.Path()] = true
	}
	var cams []cameraRow
	if p.Cameras != nil {
		for _, c := range p.Cameras() {
			cams = append(cams, cameraRow{Camera: c, Live: live[c.VideoID]})
		}
	}
	pageHeaders(w)
	if err := templates.ExecuteTemplate(w, "index.html", map[string]any{"Streams": rows, "Cameras": cams}); err != nil {
		p.log().Warn("index page", "err", err)
	}
}

func rowOf(in gateway.StreamInfo) streamRow {
	row := streamRow{Path: in.Path, Source: in.Source.Protocol, Readers: len(in.Readers)}
	switch {
	case !in.Online:
		row.State = "publisher gone, waiting"
	case !in.Ready:
		row.State = "waiting for a keyframe"
	default:
		row.State = "live"
	}
	for _, t := range in.Tracks {
		s := string(t.Codec)
		if t.Width > 0 {
			s += fmt.Sprintf(" %d×%d", t.Width, t.Height)
		}
		row.Tracks = append(row.Tracks, s)
	}
	count := map[string]int{}
	var order []string
	for _, rd := range in.Readers {
		if count[rd.Protocol] == 0 {
			order = append(order, rd.Protocol)
		}
		count[rd.Protocol]++
	}
	var parts []string
	for _, proto := range order {
		parts = append(parts, fmt.Sprintf("%d %s", count[proto], proto))
	}
	row.ReadList = strings.Join(parts, ", ")
	return row
}
