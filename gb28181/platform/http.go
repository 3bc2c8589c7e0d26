package platform

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
)

// DevicesResponse is the body of GET /api/v1/gb28181/devices, shaped like
// the API's other lists.
type DevicesResponse struct {
	Items []DeviceInfo `json:"items"`
}

// PlayResponse is the body of POST .../channels/{channel}/play.
type PlayResponse struct {
	Path    string      `json:"path"`
	Session SessionInfo `json:"session"`
}

// APIPrefix is where DevicesHandler is mounted (the list and the subtree
// below it, APIPrefix + "/").
const APIPrefix = "/api/v1/gb28181/devices"

// DevicesHandler serves the GB28181 device API (gb28181/README.md):
//
//	GET    /api/v1/gb28181/devices                                  every device since start
//	GET    /api/v1/gb28181/devices/{device}                          one device
//	POST   /api/v1/gb28181/devices/{device}/channels/{channel}/play  INVITE the channel (201)
//	DELETE /api/v1/gb28181/devices/{device}/channels/{channel}/play  BYE (204)
//
// Other methods answer 405 with Allow. Mount it (Routes) behind the
// gateway's API authentication: it lists device ids and addresses.
func (p *Platform) DevicesHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, APIPrefix)
		rest = strings.Trim(rest, "/")
		parts := strings.Split(rest, "/")
		w.Header().Set("Cache-Control", "no-store")
		switch {
		case !ok:
			gateway.WriteError(w, http.StatusNotFound, "not_found", "no such resource")
		case rest == "":
			if !allow(w, r, "GET, HEAD") {
				return
			}
			gateway.WriteJSON(w, http.StatusOK, DevicesResponse{Items: p.Devices()})
		case len(parts) == 1:
			if !allow(w, r, "GET, HEAD") {
				return
			}
			d, found := p.Device(parts[0])
			if !found {
				gateway.WriteError(w, http.StatusNotFound, "not_found", "no GB28181 device "+parts[0])
				return
			}
			gateway.WriteJSON(w, http.StatusOK, d)
		case len(parts) == 4 && parts[1] == "channels" && parts[3] == "play":
			if !allow(w, r, "POST, DELETE") {
				return
			}
			p.servePlay(w, r, parts[0], parts[2])
		default:
			gateway.WriteError(w, http.StatusNotFound, "not_found", "no such resource")
		}
	})
}

// Routes are the device API's routes for the gateway's one router, for
// every method (the handler answers 405 itself, with the API's error
// shape).
func (p *Platform) Routes() map[string]http.HandlerFunc {
	h := p.DevicesHandler().ServeHTTP
	return map[string]http.HandlerFunc{APIPrefix: h, APIPrefix + "/": h}
}

// allow answers 405 to a method outside methods.
func allow(w http.ResponseWriter, r *http.Request, methods string) bool {
	for _, m := range strings.Split(methods, ", ") {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", methods)
	gateway.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use "+methods)
	return false
}

// playWait bounds an API play: the INVITE's own timeout, plus a margin.
func (p *Platform) playWait() time.Duration { return p.InviteTimeout + 2*time.Second }

func (p *Platform) servePlay(w http.ResponseWriter, r *http.Request, dev, ch string) {
	ctx, cancel := context.WithTimeout(r.Context(), p.playWait())
	defer cancel()
	if r.Method == http.MethodDelete {
		if err := p.Stop(ctx, dev, ch); err != nil {
			gateway.WriteError(w, http.StatusNotFound, "not_found", err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !validID(dev) || !validID(ch) {
		gateway.WriteError(w, http.StatusBadRequest, "invalid_id", "device and channel ids are letters and digits")
		return
	}
	in, err := p.Play(ctx, dev, ch)
	switch {
	case err == nil:
		gateway.WriteJSON(w, http.StatusCreated, PlayResponse{Path: in.Path, Session: in})
	case errors.Is(err, gateway.ErrNotFound):
		gateway.WriteError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, errInviteCanceled), errors.Is(err, context.DeadlineExceeded):
		gateway.WriteError(w, http.StatusGatewayTimeout, "timeout", err.Error())
	default:
		gateway.WriteError(w, http.StatusBadGateway, "device_error", err.Error())
	}
}
