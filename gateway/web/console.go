package web

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/skyrelay/skyrelay/gateway"
)

// streamRow is one line of the no-script stream list.
type streamRow struct {
	Path     string
	State    string
	Source   string
	Tracks   []string
	Readers  int
	ReadList string
}

// cameraRow is one line of the no-script camera list.
type cameraRow struct {
	Camera
	Live bool
}

// consoleData is what console.html needs: the hints, the map settings and
// a snapshot for browsers without JavaScript. The script builds the live
// view from the API and the event stream.
type consoleData struct {
	Streams        []streamRow
	Cameras        []cameraRow
	RTMP, RTSP     string
	MapTileURL     string
	MapAttribution string
}

// serveConsole renders the console.
func (p *Pages) serveConsole(w http.ResponseWriter, r *http.Request) {
	d := consoleData{MapTileURL: p.MapTileURL, MapAttribution: p.MapAttribution}
	d.RTMP, d.RTSP = p.hints(r)
	live := map[string]bool{}
	for _, s := range p.Hub.Streams() {
		d.Streams = append(d.Streams, rowOf(s.Info()))
		live[s.Path()] = true
	}
	if p.Cameras != nil {
		for _, c := range p.Cameras() {
			d.Cameras = append(d.Cameras, cameraRow{Camera: c, Live: live[c.VideoID]})
		}
	}
	pageHeaders(w, tileOrigin(p.MapTileURL))
	if err := templates.ExecuteTemplate(w, "console.html", d); err != nil {
		p.log().Warn("console page", "err", err)
	}
}

// hints are the RTMP and RTSP base URLs shown in publish examples: the
// configured ones, or the host the browser used with the default ports.
func (p *Pages) hints(r *http.Request) (rtmp, rtsp string) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	rtmp, rtsp = p.Site.RTMP, p.Site.RTSP
	if rtmp == "" {
		rtmp = "rtmp://" + host + ":1935"
	}
	if rtsp == "" {
		rtsp = "rtsp://" + host + ":8554"
	}
	return rtmp, rtsp
}

// tileOrigin is the scheme://host of a tile URL template, which the page's
// Content-Security-Policy must allow images from; "" when there is none or
// it is relative (then 'self' covers it).
func tileOrigin(tmpl string) string {
	if tmpl == "" {
		return ""
	}
	u, err := url.Parse(strings.NewReplacer("{z}", "0", "{x}", "0", "{y}", "0", "{s}", "a").Replace(tmpl))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	return u.Scheme + "://" + u.Host
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
