package web

import (
	"embed"
	"html/template"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// playerData tells the player script what the server knows of the stream
// now. A DJI video may not exist yet (it starts on demand), so all of it is
// a hint: the script tries WebRTC unless it knows it cannot work.
type playerData struct {
	Path string
	// VideoCodec is "h264", "h265" or "" when unknown; the script skips
	// WebRTC for H.265 when the browser cannot receive it.
	VideoCodec string
	// BFrames: WebRTC cannot carry them, so the script goes to LL-HLS.
	BFrames bool
	// DJI: the path is a DJI camera's video_id; the player shows the live
	// session's step while the device starts.
	DJI bool
	// For the page of a path nobody publishes.
	RTMP, RTSP string
}

// servePlayer renders the player page of path. A path that has no stream
// and is no DJI camera answers 404 with a page that says how to publish
// to it and reloads by itself once something does: a typo no longer opens
// a player that spins for ever.
func (p *Pages) servePlayer(w http.ResponseWriter, r *http.Request, path string) {
	d := playerData{Path: path, DJI: p.isCamera(path)}
	s := p.Hub.Stream(path)
	if s == nil && !d.DJI {
		d.RTMP, d.RTSP = p.hints(r)
		pageHeaders(w, "")
		w.WriteHeader(http.StatusNotFound)
		if err := templates.ExecuteTemplate(w, "nostream.html", d); err != nil {
			p.log().Warn("no-stream page", "path", path, "err", err)
		}
		return
	}
	if s != nil {
		for _, t := range s.Tracks() {
			if t.Codec.IsVideo() {
				d.VideoCodec = string(t.Codec)
				break
			}
		}
		d.BFrames = s.HasBFrames()
	}
	pageHeaders(w, "")
	if err := templates.ExecuteTemplate(w, "player.html", d); err != nil {
		p.log().Warn("player page", "path", path, "err", err)
	}
}

func (p *Pages) isCamera(path string) bool {
	if p.Cameras == nil {
		return false
	}
	for _, c := range p.Cameras() {
		if c.VideoID == path {
			return true
		}
	}
	return false
}
