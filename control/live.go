package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// retryWindow is how soon after a device (or its aircraft) came online an
// x13006 refusal is taken for "not ready yet" and retried with back-off
// (docs/field-quirks.md, x13006). Later, x13006 is final.
const retryWindow = 2 * time.Minute

// startRequest is POST /api/v1/live's body.
type startRequest struct {
	VideoID  string `json:"video_id"`
	Protocol string `json:"protocol"`
	Quality  int    `json:"quality"`
}

// startSession starts (or joins) the session of a video. It returns at once;
// the caller waits on s.done. joined is true when the session existed.
func (p *Plane) startSession(req startRequest, origin string) (s *session, joined bool, aerr *APIError) {
	if req.Protocol == "" {
		req.Protocol = p.Config.DefaultProtocol
	}
	if _, ok := urlTypes[req.Protocol]; !ok {
		return nil, false, &APIError{Status: http.StatusBadRequest, Code: "bad_request",
			Message: fmt.Sprintf("protocol must be rtmp, rtsp, gb28181 or whip, not %q", req.Protocol)}
	}
	if req.Quality < 0 || req.Quality > 4 {
		return nil, false, &APIError{Status: http.StatusBadRequest, Code: "bad_request",
			Message: "quality must be 0 (adaptive), 1 (smooth), 2 (SD), 3 (HD) or 4 (UHD)"}
	}
	gw, _, online, ok := p.reg.camera(req.VideoID)
	if !ok {
		return nil, false, &APIError{Status: http.StatusNotFound, Code: "unknown_video", Err: ErrUnknownVideo,
			Message: fmt.Sprintf("video_id %q is not in any device's live_capacity", req.VideoID)}
	}
	if !online {
		return nil, false, &APIError{Status: http.StatusNotFound, Code: "device_offline", Err: ErrDeviceOffline,
			Message: fmt.Sprintf("device %s of video_id %q is offline", gw, req.VideoID)}
	}

	check := func(active []*session) *APIError {
		if p.Media == nil {
			return &APIError{Status: http.StatusServiceUnavailable, Code: "media_unavailable", Message: "no media gateway is attached"}
		}
		if !receives(p.Media, req.Protocol) {
			return &APIError{Status: http.StatusNotImplemented, Code: "not_implemented", Err: ErrNotImplemented,
				Message: fmt.Sprintf("receiving %s pushes is not implemented yet; use rtmp", req.Protocol)}
		}
		if origin == "on_demand" {
			if e := p.refused.holdBack(req.VideoID); e != nil {
				return e
			}
		}
		lim, running := p.reg.liveNow(gw)
		for _, s := range active {
			if s.v.Gateway == gw && !slices.Contains(running, s.v.VideoID) {
				running = append(running, s.v.VideoID)
			}
		}
		return checkCapacity(gw, req.VideoID, lim, running)
	}
	mk := func() *session {
		ctx, cancel := context.WithCancel(context.Background())
		now := time.Now()
		s := &session{p: p, bid: cloudapi.NewID(), ctx: ctx, cancel: cancel, done: make(chan struct{}),
			v: Session{VideoID: req.VideoID, Path: req.VideoID, Protocol: req.Protocol, Gateway: gw,
				Quality: req.Quality, FlightID: p.flightOf(gw), State: StepSent, Reason: "preparing live_start_push",
				Play: p.Media.PlayURLs(req.VideoID), Origin: origin, StartedAt: now, UpdatedAt: now, Notes: []string{}}}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.runStart(s)
		}()
		return s
	}
	s, joined, aerr = p.sessions.join(req.VideoID, check, mk)
	if aerr == nil && !joined {
		p.recordVideo(s)
	}
	return s, joined, aerr
}

// runStart is a session's start flow: mint, command, reply, media.
func (p *Plane) runStart(s *session) {
	defer close(s.done)
	v := s.view()
	fail := func(e *APIError) {
		s.mu.Lock()
		s.startErr = e
		s.mu.Unlock()
		if backsOff(e) {
			wait := p.refused.failed(v.VideoID, e)
			s.note("on-demand starts of %s wait %s before the next live_start_push", v.VideoID, wait)
		}
		cause := EndStartFailed
		if e.Code == "media_timeout" {
			cause = EndMediaTimeout
		}
		s.end(End{Cause: cause}, StepFailed, e.Message, e)
	}
	url, revoke, err := p.Media.MintPush(v.Path, v.Protocol)
	if err != nil {
		fail(&APIError{Status: http.StatusServiceUnavailable, Code: "media_unavailable", Message: "the media gateway cannot take a push: " + err.Error()})
		return
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		revoke()
		p.endedDuringStart(s)
		return
	}
	s.revoke = revoke
	s.mu.Unlock()

	data := map[string]any{"url_type": urlTypes[v.Protocol], "url": url, "video_id": v.VideoID, "video_quality": v.Quality}
	var output json.RawMessage // the accepting reply's data.output (or data.info)
	for attempt := 1; ; attempt++ {
		s.mu.Lock()
		s.v.Attempts = attempt
		s.mu.Unlock()
		if !s.step(StepSent, fmt.Sprintf("live_start_push sent (attempt %d); waiting for the device's reply", attempt)) {
			p.endedDuringStart(s)
			return
		}
		rep, err := p.call(s.ctx, v.Gateway, "live_start_push", s.bid, data)
		if s.isEnded() {
			p.endedDuringStart(s)
			return
		}
		if err != nil {
			if errors.Is(err, errNoReply) && p.reg.videoLive(v.Gateway, v.VideoID) {
				// A late success: the device pushes although its reply got
				// lost. Re-sending would only earn x13003.
				s.note("no reply within %s, but the device reports %s live: going on without re-sending", p.Config.ReplyTimeout, v.VideoID)
				break
			}
			e := callError("live_start_push", err, p.Config.ReplyTimeout)
			if e.Code == "timeout" {
				e.Message += "; not re-sent, since a late success plus a retry only earns x13003 (already live), and live_status does not show the video live"
			}
			fail(e)
			return
		}
		if rep.Result == 0 {
			output = rep.Output
			break
		}
		since := time.Since(p.reg.cameOnlineAt(v.Gateway))
		if cloudapi.IsRetryAfterOnline(rep.Result) && attempt <= p.Config.StartRetries && since < retryWindow {
			wait := p.Config.StartRetryBackoff << (attempt - 1)
			d := cloudapi.DecodeError(rep.Result)
			s.note("refused with %d (%s) %s after the device came online: retry %d of %d in %s",
				rep.Result, d.Message, since.Round(time.Second), attempt, p.Config.StartRetries, wait)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				p.endedDuringStart(s)
				return
			}
			continue
		}
		e := deviceError("live_start_push", rep.Result)
		if cloudapi.IsRetryAfterOnline(rep.Result) && attempt > 1 {
			e.Message += fmt.Sprintf(" (after %d attempts)", attempt)
		}
		fail(e)
		return
	}

	if v.Protocol == "rtsp" {
		if e := p.startPull(s, output); e != nil {
			fail(e)
			p.stopQuietly(v.Gateway, s.bid, v.VideoID)
			return
		}
	}
	s.mu.Lock()
	s.accepted = true
	live := p.reg.videoLive(v.Gateway, v.VideoID)
	s.sawLive = live
	s.mu.Unlock()
	if live {
		s.step(StepMediaArriving, "the device accepted and reports the push running; waiting for a keyframe")
	} else {
		s.step(StepAccepted, "the device accepted live_start_push; waiting for its media to arrive")
	}
	ctx, cancel := context.WithTimeout(s.ctx, p.Config.ReadyTimeout)
	err = p.Media.WaitReady(ctx, v.Path)
	cancel()
	if s.isEnded() {
		p.endedDuringStart(s)
		return
	}
	if err != nil {
		s.mu.Lock()
		what := "no media arrived"
		if s.v.State == StepMediaArriving {
			what = "media arrived but never became playable (no keyframe)"
		}
		s.mu.Unlock()
		fail(&APIError{Status: http.StatusGatewayTimeout, Code: "media_timeout",
			Message: fmt.Sprintf("the device accepted live_start_push, but %s within %s", what, p.Config.ReadyTimeout)})
		p.stopQuietly(v.Gateway, s.bid, v.VideoID)
		return
	}
	s.mu.Lock()
	s.v.Readers = p.Media.Readers(v.Path)
	s.mu.Unlock()
	p.refused.succeeded(v.VideoID)
	if s.step(StepPlayable, "media is playable") {
		s.mu.Lock()
		s.armIdleLocked()
		s.mu.Unlock()
	}
}

// endedDuringStart records why a start flow gave up: someone (DELETE, the
// device going offline...) ended the session first.
func (p *Plane) endedDuringStart(s *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.startErr == nil {
		if s.v.Error != nil {
			s.startErr = s.v.Error
		} else {
			s.startErr = &APIError{Status: http.StatusConflict, Code: "session_ended",
				Message: "the session ended before it became playable: " + s.v.Reason}
		}
	}
}

// stopQuietly sends live_stop_push without waiting on anyone: after a
// failed start the device must not keep pushing to a revoked URL.
func (p *Plane) stopQuietly(gw, bid, videoID string) {
	p.background(func(ctx context.Context) {
		if _, err := p.call(ctx, gw, "live_stop_push", bid, map[string]any{"video_id": videoID}); err != nil {
			p.log.Debug("live_stop_push after a failed start", "video_id", videoID, "error", err)
		}
	})
}

// waitStart waits for a start flow and gives its outcome.
func waitStart(ctx context.Context, s *session) *APIError {
	select {
	case <-s.done:
	case <-ctx.Done():
		return &APIError{Status: http.StatusGatewayTimeout, Code: "canceled", Message: "gave up waiting: " + ctx.Err().Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startErr
}

// StartOnDemand starts path, a DJI video_id a viewer opened while it is not
// live, with default_protocol, and returns once it is playable. It fails
// quickly (errors.Is ErrUnknownVideo) when path is no known video_id.
func (p *Plane) StartOnDemand(ctx context.Context, path string) error {
	s, _, aerr := p.startSession(startRequest{VideoID: path, Protocol: p.Config.DefaultProtocol}, "on_demand")
	if aerr != nil {
		return aerr
	}
	if aerr := waitStart(ctx, s); aerr != nil {
		return aerr
	}
	// A joined session may be waiting for its media to come back.
	return p.Media.WaitReady(ctx, path)
}

// stopSession sends live_stop_push and ends the session once the device
// agrees (or says nothing is streaming). A refusal or timeout keeps the
// session, with a note, so the caller can retry. cause says who asked;
// the first stop asked is the one the session keeps (session.end).
func (p *Plane) stopSession(ctx context.Context, s *session, cause End, reason string) *APIError {
	v := s.view()
	if s.isEnded() {
		return nil
	}
	s.stopAsked(cause, reason)
	rep, err := p.call(ctx, v.Gateway, "live_stop_push", s.bid, map[string]any{"video_id": v.VideoID})
	if err != nil {
		e := callError("live_stop_push", err, p.Config.ReplyTimeout)
		s.note("stop not confirmed: %s", e.Message)
		return e
	}
	if rep.Result != 0 && rep.Result%100000 != 13011 {
		e := deviceError("live_stop_push", rep.Result)
		s.note("stop refused: %s", e.Message)
		s.stopFailed()
		return e
	}
	s.mu.Lock()
	if s.stopping != nil {
		cause, reason = *s.stopping, s.stopReason
	}
	s.mu.Unlock()
	s.end(cause, StepStopped, reason, nil)
	return nil
}

// idleStop stops a session nobody watched for idle_stop_after.
func (p *Plane) idleStop(s *session) {
	s.mu.Lock()
	s.idle = nil
	idle := !s.ended && s.v.State == StepPlayable && s.v.Readers == 0
	s.mu.Unlock()
	if !idle {
		return
	}
	p.background(func(ctx context.Context) {
		reason := fmt.Sprintf("no viewer for %s (idle_stop_after)", p.Config.IdleStopAfter)
		if e := p.stopSession(ctx, s, End{Cause: EndIdle}, reason); e != nil {
			p.log.Warn("idle stop failed", "video_id", s.v.VideoID, "error", e.Message)
		}
	})
}

// patchSession changes quality and/or lens of a live session.
func (p *Plane) patchSession(ctx context.Context, s *session, quality *int, lens *string) *APIError {
	v := s.view()
	if quality != nil {
		if *quality < 0 || *quality > 4 {
			return &APIError{Status: http.StatusBadRequest, Code: "bad_request", Message: "quality must be between 0 and 4"}
		}
	}
	if lens != nil {
		_, cam, _, ok := p.reg.camera(v.VideoID)
		if *lens == "" {
			return &APIError{Status: http.StatusBadRequest, Code: "bad_request", Message: "lens must not be empty"}
		}
		if ok && len(cam.SwitchableVideoTypes) > 0 && !slices.Contains(cam.SwitchableVideoTypes, *lens) {
			return &APIError{Status: http.StatusBadRequest, Code: "bad_request",
				Message: fmt.Sprintf("lens %q is not one of this camera's switchable_video_types %v", *lens, cam.SwitchableVideoTypes)}
		}
	}
	if quality != nil {
		if e := p.command(ctx, s, "live_set_quality", map[string]any{"video_id": v.VideoID, "video_quality": *quality}); e != nil {
			return e
		}
		s.mu.Lock()
		s.v.Quality = *quality
		s.noteLocked("quality set to %d", *quality)
		s.mu.Unlock()
	}
	if lens != nil {
		// Docs disagree on the payload (docks: video_type only; RCs and the
		// SDK: both); devices accept both fields, so both are sent.
		if e := p.command(ctx, s, "live_lens_change", map[string]any{"video_id": v.VideoID, "video_type": *lens}); e != nil {
			return e
		}
		s.mu.Lock()
		s.v.Lens = *lens
		s.noteLocked("lens changed to %s", *lens)
		s.mu.Unlock()
	}
	p.sessionChanged(s)
	return nil
}

// command sends one command of a session and turns a failure or the
// device's refusal into the API's error; a refusal is noted on the session.
func (p *Plane) command(ctx context.Context, s *session, method string, data map[string]any) *APIError {
	rep, err := p.call(ctx, s.v.Gateway, method, s.bid, data)
	if err != nil {
		return callError(method, err, p.Config.ReplyTimeout)
	}
	if rep.Result != 0 {
		e := deviceError(method, rep.Result)
		s.note("%s", e.Message)
		return e
	}
	return nil
}

// session returns the session of a video_id (ended ones included).
func (p *Plane) session(videoID string) *session { return p.sessions.get(videoID) }

// Sessions lists the live sessions, ended ones included, by video_id.
func (p *Plane) Sessions() []Session { return p.sessions.views() }

func (p *Plane) sessionChanged(s *session) {
	if p.events.active() {
		v := s.view()
		p.events.publish(Event{Type: EventSession, SN: v.Gateway, Gateway: v.Gateway, Path: v.Path, Data: v})
	}
}

// onLiveStatus follows what the device says about its pushes.
func (p *Plane) onLiveStatus(gw string, changed []LiveStatus) {
	for _, ls := range changed {
		s := p.session(ls.VideoID)
		if s == nil || s.isEnded() || s.v.Gateway != gw {
			continue
		}
		s.mu.Lock()
		accepted, sawLive := s.accepted, s.sawLive
		if ls.Lens != "" {
			s.v.Lens = ls.Lens
		}
		if ls.Status == 1 && accepted {
			s.sawLive = true
		}
		state := s.v.State
		s.mu.Unlock()
		switch {
		case ls.Status == 1 && accepted && state == StepAccepted:
			s.step(StepMediaArriving, "the device reports the push running; waiting for a keyframe")
		case ls.Status == 0 && sawLive && ls.ErrorStatus != 0:
			d := cloudapi.DecodeError(ls.ErrorStatus)
			s.end(End{Cause: EndDevice}, StepFailed, "the device reports the push broke: "+d.Message,
				&APIError{Status: http.StatusBadGateway, Code: "device_error", Device: d, Message: "live_status error_status: " + d.Message})
		case ls.Status == 0 && sawLive:
			s.end(End{Cause: EndDevice}, StepStopped, "the device reports the push ended", nil)
		case ls.ErrorStatus != 0:
			s.note("the device reports error_status %d: %s", ls.ErrorStatus, cloudapi.DecodeError(ls.ErrorStatus).Message)
		default:
			p.sessionChanged(s)
		}
	}
}

// onCamerasGone ends sessions whose camera left live_capacity.
func (p *Plane) onCamerasGone(gw string, gone []string) {
	for _, id := range gone {
		if s := p.session(id); s != nil && s.v.Gateway == gw {
			s.end(End{Cause: EndCameraGone}, StepStopped, "the camera left the device's live_capacity (aircraft powered off or payload changed)", nil)
		}
	}
}

// onDeviceOffline ends the sessions of a device that went offline.
func (p *Plane) onDeviceOffline(gw string) {
	for _, s := range p.sessions.activeOf(gw) {
		s.end(End{Cause: EndDeviceOffline}, StepFailed, fmt.Sprintf("device %s went offline (nothing from it for %s)", gw, p.Config.OfflineAfter),
			&APIError{Status: http.StatusBadGateway, Code: "device_offline", Err: ErrDeviceOffline, Message: "the device went offline"})
	}
}

// StreamEvent is how the stream core reports a change of a path (see
// StreamChange); StreamReady only goes to the event stream. Readiness reaches the
// plane one way, by asking Media.WaitReady: at the start, and again after
// "gone" (see awaitReturn). StreamEvent drives idle stop and the event
// stream.
func (p *Plane) StreamEvent(path string, ev StreamChange, readers int) {
	p.events.publish(Event{Type: EventStream, Path: path, Data: map[string]any{"event": ev.String(), "readers": readers}})
	s := p.session(path)
	if s == nil || s.isEnded() {
		return
	}
	s.mu.Lock()
	s.v.Readers = readers
	state, stopping := s.v.State, s.stopping != nil
	s.mu.Unlock()
	switch ev {
	case StreamGone:
		if stopping {
			s.note("the media stopped, as asked")
			break
		}
		if state == StepPlayable && s.step(StepMediaArriving, "the media stopped; waiting for the device to push again") {
			p.awaitReturn(s)
		}
	case StreamLost:
		s.note("the device's media connection dropped; the gateway holds viewers while it reconnects")
	case StreamBack:
		s.note("the device's media connection is back")
	}
	s.mu.Lock()
	s.armIdleLocked()
	s.mu.Unlock()
	if ev == StreamReaders {
		p.sessionChanged(s)
	}
}

// awaitReturn waits, once per loss, for the media of a session to become
// playable again within ready_timeout; otherwise the session fails and the
// device is told to stop.
func (p *Plane) awaitReturn(s *session) {
	s.mu.Lock()
	if s.rewaiting {
		s.mu.Unlock()
		return
	}
	s.rewaiting = true
	s.mu.Unlock()
	wait := p.Config.ReadyTimeout
	p.background(func(context.Context) {
		ctx, cancel := context.WithTimeout(s.ctx, wait)
		defer cancel()
		err := p.Media.WaitReady(ctx, s.v.Path)
		s.mu.Lock()
		s.rewaiting = false
		s.mu.Unlock()
		switch {
		case err == nil:
			if s.stepFrom(StepMediaArriving, StepPlayable, "media is playable again") {
				s.mu.Lock()
				s.armIdleLocked()
				s.mu.Unlock()
			}
		case s.ctx.Err() == nil:
			if s.end(End{Cause: EndMediaTimeout}, StepFailed, fmt.Sprintf("the media stopped and did not come back within %s", wait),
				&APIError{Status: http.StatusGatewayTimeout, Code: "media_timeout", Message: "the media stopped and did not come back"}) {
				v := s.view()
				p.stopQuietly(v.Gateway, s.bid, v.VideoID)
			}
		}
	})
}
