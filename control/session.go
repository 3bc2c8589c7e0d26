package control

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Steps of a live session. A session always shows the step it is in and,
// in Reason, what that means or why it ended, so "the RC says it is pushing
// but nothing plays" always names the missing step.
const (
	StepSent          = "sent"            // live_start_push published; waiting for the reply
	StepAccepted      = "device_accepted" // the device said yes; no media yet
	StepMediaArriving = "media_arriving"  // the device pushes, or media came and went; not playable yet
	StepPlayable      = "playable"        // a keyframe arrived; viewers can play
	StepFailed        = "failed"          // ended by an error (Error says which)
	StepStopped       = "stopped"         // ended on purpose or by the device
)

// Causes of a session's end (Session.End.Cause). A session keeps the first
// true one: a stop asked through the API, for instance, is followed by the
// device reporting the push ended and the media going away, and neither
// of those may overwrite it.
const (
	EndAPI           = "api_stop"         // DELETE /api/v1/live/...; By names the client
	EndIdle          = "idle_stop"        // no viewer for control.idle_stop_after
	EndDevice        = "device_report"    // the device reports the push ended or broke (live_status)
	EndMediaTimeout  = "media_timeout"    // no playable media within control.ready_timeout
	EndShutdown      = "gateway_shutdown" // Skyrelay is shutting down
	EndDeviceOffline = "device_offline"   // the device went silent
	EndCameraGone    = "camera_gone"      // the camera left live_capacity
	EndStartFailed   = "start_failed"     // the start failed (refusal, no reply...): Error says why
)

// End says why a session ended.
type End struct {
	Cause string `json:"cause"`
	// By is who asked for a stop through the API: its remote address.
	By string `json:"by,omitempty"`
}

// steps lists every step, for the metrics.
var steps = []string{StepSent, StepAccepted, StepMediaArriving, StepPlayable, StepFailed, StepStopped}

// Session is a live session as the API shows it.
type Session struct {
	VideoID  string   `json:"video_id"`
	Path     string   `json:"path"`
	Protocol string   `json:"protocol"`
	Gateway  string   `json:"gateway_sn"`
	Quality  int      `json:"quality"`
	Lens     string   `json:"lens,omitempty"`
	State    string   `json:"state"`
	Reason   string   `json:"reason"`
	Play     PlayURLs `json:"play"`
	// Error is set when the session failed, or a command on it was refused.
	Error *APIError `json:"error,omitempty"`
	// End is why the session ended, once it has.
	End *End `json:"end,omitempty"`
	// Attempts counts live_start_push publishes (x13006 retries included).
	Attempts int `json:"attempts"`
	// Notes are the session's history, oldest first, bounded.
	Notes     []string   `json:"notes"`
	Readers   int        `json:"readers"`
	Origin    string     `json:"origin"` // api or on_demand
	StartedAt time.Time  `json:"started_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`

	// FlightID is the dock's flight task the video is filmed in, once the
	// dock reported one (recorder.go).
	FlightID string `json:"flight_id,omitempty"`
}

const maxNotes = 20

// session is one device push the plane drives. Its start runs on its own
// goroutine (run); device reports, media events and API calls change it
// under mu from other goroutines.
type session struct {
	p      *Plane
	bid    string // kept for every command of the session
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the start flow is over

	mu        sync.Mutex
	v         Session
	startErr  *APIError
	ended     bool
	accepted  bool // the device accepted the start
	sawLive   bool // ...and then reported the video live
	revoke    func()
	idle      *time.Timer
	rewaiting bool // awaitReturn waits for the media to come back
	// stopping is the stop asked for (API, idle) while its live_stop_push
	// is on its way: what follows from it is not another reason.
	stopping   *End
	stopReason string
}

func (s *session) view() Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.v
	v.Notes = append([]string{}, s.v.Notes...)
	return v
}

func (s *session) isEnded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// noteLocked adds to the history.
func (s *session) noteLocked(format string, a ...any) {
	n := time.Now().UTC().Format("15:04:05.000") + " " + fmt.Sprintf(format, a...)
	s.v.Notes = append(s.v.Notes, n)
	if len(s.v.Notes) > maxNotes {
		s.v.Notes = s.v.Notes[len(s.v.Notes)-maxNotes:]
	}
	s.v.UpdatedAt = time.Now()
}

func (s *session) note(format string, a ...any) {
	s.mu.Lock()
	s.noteLocked(format, a...)
	s.mu.Unlock()
	s.p.sessionChanged(s)
}

// step moves an active session to a new step.
func (s *session) step(step, reason string) bool { return s.stepFrom("", step, reason) }

// stepFrom moves an active session in step from ("" for any) to another
// step; false when it is in another step (or ended) by then.
func (s *session) stepFrom(from, to, reason string) bool {
	s.mu.Lock()
	if s.ended || (from != "" && s.v.State != from) {
		s.mu.Unlock()
		return false
	}
	s.v.State, s.v.Reason = to, reason
	s.noteLocked("%s: %s", to, reason)
	s.mu.Unlock()
	s.p.sessionChanged(s)
	return true
}

// end finishes the session once: the start flow is cancelled, timers stop
// and the push secret is revoked. Once a stop was asked for (API, idle),
// whatever ends the session next (the device reporting the push ended, the
// media going away, even the device going offline before it confirmed)
// ends it with the stop's own cause and reason: that came first.
func (s *session) end(cause End, step, reason string, err *APIError) bool {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return false
	}
	if s.stopping != nil {
		cause, step, reason, err = *s.stopping, StepStopped, s.stopReason, nil
	}
	s.ended = true
	now := time.Now()
	s.v.State, s.v.Reason, s.v.EndedAt = step, reason, &now
	s.v.End = &cause
	if err != nil {
		s.v.Error = err
	}
	s.noteLocked("%s: %s", step, reason)
	if s.idle != nil {
		s.idle.Stop()
	}
	revoke := s.revoke
	s.revoke = nil
	s.mu.Unlock()
	s.cancel()
	if revoke != nil {
		revoke()
	}
	s.p.sessionChanged(s)
	s.p.recordEnded(s)
	s.p.log.Info("live session ended", "video_id", s.v.VideoID, "state", step, "cause", cause.Cause, "by", cause.By, "reason", reason)
	return true
}

// stopAsked records a stop on its way (the first one only); false when
// the session ended or another stop is already on its way.
func (s *session) stopAsked(cause End, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.stopping != nil {
		return false
	}
	s.stopping, s.stopReason = &cause, reason
	return true
}

// stopFailed forgets a stop the device refused.
func (s *session) stopFailed() {
	s.mu.Lock()
	s.stopping, s.stopReason = nil, ""
	s.mu.Unlock()
}

// armIdleLocked starts or stops the idle-stop timer after a readers change.
func (s *session) armIdleLocked() {
	d := s.p.Config.IdleStopAfter
	if d <= 0 || s.ended || s.v.State != StepPlayable || s.v.Readers > 0 {
		if s.idle != nil {
			s.idle.Stop()
			s.idle = nil
		}
		return
	}
	if s.idle == nil {
		s.idle = time.AfterFunc(d, func() { s.p.idleStop(s) })
	}
}
