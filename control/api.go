package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"

	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// api serves the control API's requests: each handler reads the request,
// asks the plane and writes the answer; the work is the plane's.
type api struct{ *Plane }

// maxBody bounds request bodies; DJI service payloads are small.
const maxBody = 1 << 20

// Routes are the control API's routes (docs/api.md), for the one HTTP
// router; everything else under /api/ is answered there (a JSON 404, or a
// 405 for a known path with another method).
func (p *Plane) Routes() map[string]http.HandlerFunc {
	p.ensure()
	a := api{p}
	return map[string]http.HandlerFunc{
		"GET /api/v1/devices":                                 a.apiDevices,
		"GET /api/v1/devices/{sn}":                            a.apiDevice,
		"POST /api/v1/devices/{gateway_sn}/services/{method}": a.apiService,
		"POST /api/v1/live":                                   a.apiStart,
		"GET /api/v1/live":                                    a.apiSessions,
		"GET /api/v1/live/{video_id...}":                      a.apiSession,
		"PATCH /api/v1/live/{video_id...}":                    a.apiPatch,
		"DELETE /api/v1/live/{video_id...}":                   a.apiStop,
		"GET /api/v1/events":                                  a.serveEvents,
		"POST /api/v1/pilot/credentials":                      a.apiMintPilot,
		"GET /api/v1/pilot/credentials":                       a.apiListPilot,
		"DELETE /api/v1/pilot/credentials/{username}":         a.apiRevokePilot,
	}
}

func (p api) apiDevices(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"items": p.Devices()})
}

func (p api) apiDevice(w http.ResponseWriter, r *http.Request) {
	d, ok := p.Device(r.PathValue("sn"))
	if !ok {
		writeError(w, http.StatusNotFound, "unknown_device", fmt.Sprintf("no device %q has connected", r.PathValue("sn")))
		return
	}
	writeJSON(w, http.StatusOK, d)
}

var methodName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// apiService passes any Cloud API service through: the body is data.
func (p api) apiService(w http.ResponseWriter, r *http.Request) {
	gw, method := r.PathValue("gateway_sn"), r.PathValue("method")
	if !methodName.MatchString(method) {
		writeError(w, http.StatusBadRequest, "bad_request", "method must be a Cloud API method name such as live_stop_push")
		return
	}
	var data map[string]json.RawMessage
	if aerr := readJSON(r, &data, true); aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	if data == nil {
		data = map[string]json.RawMessage{}
	}
	known, online := p.reg.status(gw)
	if !known {
		writeError(w, http.StatusNotFound, "unknown_device", fmt.Sprintf("no device %q has connected", gw))
		return
	}
	if !online {
		writeError(w, http.StatusNotFound, "device_offline", fmt.Sprintf("device %s is offline", gw))
		return
	}
	rep, err := p.call(r.Context(), gw, method, "", data)
	if err != nil {
		writeAPIError(w, callError(method, err, p.Config.ReplyTimeout))
		return
	}
	out := map[string]any{"result": rep.Result, "output": rep.Output}
	if rep.Result != 0 {
		out["error"] = cloudapi.DecodeError(rep.Result)
	}
	writeJSON(w, http.StatusOK, out)
}

// apiStart is POST /api/v1/live.
func (p api) apiStart(w http.ResponseWriter, r *http.Request) {
	var req startRequest
	if aerr := readJSON(r, &req, false); aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	if req.VideoID == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "video_id is required, e.g. \"SN/99-0-0/normal-0\"")
		return
	}
	s, joined, aerr := p.startSession(req, "api")
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	if aerr := waitStart(r.Context(), s); aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	status := http.StatusCreated
	if joined {
		status = http.StatusOK
	}
	writeJSON(w, status, s.view())
}

func (p api) apiSessions(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"items": p.Sessions()})
}

func (p api) sessionOr404(w http.ResponseWriter, r *http.Request, activeOnly bool) *session {
	id := r.PathValue("video_id")
	s := p.session(id)
	if s == nil || (activeOnly && s.isEnded()) {
		writeError(w, http.StatusNotFound, "no_session", fmt.Sprintf("no live session for video_id %q", id))
		return nil
	}
	return s
}

func (p api) apiSession(w http.ResponseWriter, r *http.Request) {
	if s := p.sessionOr404(w, r, false); s != nil {
		writeJSON(w, http.StatusOK, s.view())
	}
}

// apiPatch changes quality ({"quality":N}) and/or lens ({"lens":"zoom"}).
func (p api) apiPatch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Quality *int    `json:"quality"`
		Lens    *string `json:"lens"`
	}
	if aerr := readJSON(r, &req, false); aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	if req.Quality == nil && req.Lens == nil {
		writeError(w, http.StatusBadRequest, "bad_request", `give "quality" (0-4) and/or "lens" (e.g. "zoom")`)
		return
	}
	s := p.sessionOr404(w, r, true)
	if s == nil {
		return
	}
	if aerr := p.patchSession(r.Context(), s, req.Quality, req.Lens); aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, s.view())
}

// apiStop is DELETE: live_stop_push, then 204. An ended session is simply
// forgotten.
func (p api) apiStop(w http.ResponseWriter, r *http.Request) {
	s := p.sessionOr404(w, r, false)
	if s == nil {
		return
	}
	if s.isEnded() {
		p.sessions.remove(s)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	by := r.RemoteAddr
	if host, _, err := net.SplitHostPort(by); err == nil {
		by = host
	}
	if aerr := p.stopSession(r.Context(), s, End{Cause: EndAPI, By: by}, "stopped through the API by "+by); aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// readJSON decodes a request body into v. Unknown fields are refused (a
// typo like "qualty" must not pass silently) unless loose; an empty body is
// allowed only when loose.
func readJSON(r *http.Request, v any, loose bool) *APIError {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &APIError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: fmt.Sprintf("the body must be at most %d bytes", maxBody)}
		}
		return &APIError{Status: http.StatusBadRequest, Code: "bad_request", Message: "cannot read the body: " + err.Error()}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if loose {
			return nil
		}
		return &APIError{Status: http.StatusBadRequest, Code: "bad_request", Message: "the body must be a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if !loose {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return &APIError{Status: http.StatusBadRequest, Code: "bad_request", Message: "the body is not valid JSON for this request: " + cloudapi.ShortError(err)}
	}
	if dec.More() {
		return &APIError{Status: http.StatusBadRequest, Code: "bad_request", Message: "the body must hold one JSON object"}
	}
	return nil
}
