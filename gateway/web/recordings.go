package web

import "net/http"

// serveRecordings renders /recordings/: the list of recorded paths, or with
// ?path=P the playback view with its timeline. The script reads everything
// from /api/v1/recordings (gateway/record), so the page itself is static.
func (p *Pages) serveRecordings(w http.ResponseWriter) {
	pageHeaders(w, "")
	if err := templates.ExecuteTemplate(w, "recordings.html", nil); err != nil {
		p.log().Warn("recordings page", "err", err)
	}
}
