package web

import (
	"embed"
	"html/template"
	"log/slog"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// playerData tells the player script what the server knows of the stream
// now. The stream may not exist yet (a DJI video starts on demand), so all
// of it is a hint: the script tries WebRTC unless it knows it cannot work.
type playerData struct {
	Path string
	// VideoCodec is "h264", "h265" or "" when unknown; the script skips
	// WebRTC for H.265 when the browser cannot receive it.
	VideoCodec string
	// BFrames: WebRTC cannot carry them, so the script goes to LL-HLS.
	BFrames bool
}

// servePlayer renders the player page of path.
func (p *Pages) servePlayer(w http.ResponseWriter, r *http.Request, path string) {
	d := playerData{Path: path}
	if s := p.Hub.Stream(path); s != nil {
		for _, t := range s.Tracks() {
			if t.Codec.IsVideo() {
				d.VideoCodec = string(t.Codec)
				break
			}
		}
		d.BFrames = s.HasBFrames()
	}
	pageHeaders(w)
	if err := templates.ExecuteTemplate(w, "player.html", d); err != nil {
		p.log().Warn("player page", "path", path, "err", err)
	}
}

func (p *Pages) log() *slog.Logger {
	if p.Log == nil {
		return slog.Default()
	}
	return p.Log
}
