package web

import "net/http"

// serveWall renders the video wall. The layout lives in the URL
// (/wall?paths=P1,P2&layout=4&osd=1), so a display PC opens it as it is;
// the script reads it, nothing here does.
func (p *Pages) serveWall(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w, "")
	if err := templates.ExecuteTemplate(w, "wall.html", nil); err != nil {
		p.log().Warn("wall page", "err", err)
	}
}

// servePilot renders the page DJI Pilot 2 opens in its webview. The
// script asks POST /api/v1/pilot/session for the licence, the broker and
// the push URL (PilotAPI), so nothing secret is in the page itself.
func (p *Pages) servePilot(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w, "")
	if err := templates.ExecuteTemplate(w, "pilot.html", nil); err != nil {
		p.log().Warn("pilot page", "err", err)
	}
}
