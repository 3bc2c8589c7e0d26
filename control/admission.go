package control

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Whether a start may go ahead, decided before anything is sent to the
// device: the device's live capacity, and the back-off after a camera
// refused.

// checkCapacity refuses a start of videoID that would exceed what the
// device said it can push at once (live_capacity): the gateway's
// available_video_number and coexist_video_number_max, and each video
// source's available_video_number. running are the video_ids pushing now:
// the plane's active sessions and what the device reports live.
func checkCapacity(gw, videoID string, lim liveLimits, running []string) *APIError {
	others := make([]string, 0, len(running))
	for _, id := range running {
		if id != videoID {
			others = append(others, id)
		}
	}
	sort.Strings(others)
	if lim.gateway > 0 && len(others) >= lim.gateway {
		return capacityError(fmt.Sprintf("device %s pushes at most %d video(s) at once (live_capacity)", gw, lim.gateway), others)
	}
	src, _, _ := splitVideoID(videoID)
	if n := lim.device[src]; n > 0 {
		var same []string
		for _, id := range others {
			if s, _, _ := splitVideoID(id); s == src {
				same = append(same, id)
			}
		}
		if len(same) >= n {
			return capacityError(fmt.Sprintf("%s offers at most %d video(s) at once (live_capacity)", src, n), same)
		}
	}
	return nil
}

func capacityError(what string, running []string) *APIError {
	return &APIError{Status: http.StatusConflict, Code: "capacity_reached",
		Message: what + "; running now: " + strings.Join(running, ", ") + ". Stop one first (DELETE /api/v1/live/{video_id})"}
}

// Back-off of on-demand starts after a failed start: viewers' players retry
// (a WebRTC page and its LL-HLS fallback each start the camera when it is
// not live), and a device that refuses must not get a live_start_push for
// every retry. The first wait is backoffFirst; it doubles with every
// failure in a row, up to backoffMax; a start that becomes playable clears
// it. An API call (POST /api/v1/live) is never held back.
const (
	backoffFirst = 5 * time.Second
	backoffMax   = 2 * time.Minute
)

// refusals remembers, per video_id, the last failed start.
type refusals struct {
	mu          sync.Mutex
	first, max  time.Duration // backoffFirst and backoffMax; tests shorten them
	byVideo     map[string]*refusal
	clock       func() time.Time
	initialized bool
}

type refusal struct {
	failures int
	at       time.Time
	until    time.Time
	err      *APIError
}

func (r *refusals) init() {
	if !r.initialized {
		r.initialized = true
		if r.first == 0 {
			r.first, r.max = backoffFirst, backoffMax
		}
		if r.clock == nil {
			r.clock = time.Now
		}
		r.byVideo = map[string]*refusal{}
	}
}

// failed records a failed start of videoID and returns the wait before
// the next on-demand start.
func (r *refusals) failed(videoID string, err *APIError) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	f := r.byVideo[videoID]
	if f == nil {
		f = &refusal{}
		r.byVideo[videoID] = f
	}
	f.failures++
	wait := r.first
	for i := 1; i < f.failures && wait < r.max; i++ {
		wait *= 2
	}
	wait = min(wait, r.max)
	f.at, f.err = r.clock(), err
	f.until = f.at.Add(wait)
	return wait
}

// succeeded forgets the failures of videoID.
func (r *refusals) succeeded(videoID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	delete(r.byVideo, videoID)
}

// holdBack returns the error an on-demand start of videoID gets instead of
// a command while its back-off runs: the last failure, decoded, and when
// the next start may go.
func (r *refusals) holdBack(videoID string) *APIError {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	f := r.byVideo[videoID]
	if f == nil {
		return nil
	}
	now := r.clock()
	if !now.Before(f.until) {
		return nil
	}
	e := *f.err
	e.Message = fmt.Sprintf("not started again on demand: the last start, %s ago, failed (%s); the next on-demand start may go in %s (failures in a row: %d); POST /api/v1/live starts it at once",
		now.Sub(f.at).Round(time.Millisecond), f.err.Message, f.until.Sub(now).Round(time.Millisecond), f.failures)
	return &e
}

// backsOff tells whether a failed start earns a back-off: the device
// refused, did not answer, or accepted and sent nothing playable. Failures
// of our own (no media gateway, shutting down, ended by someone) do not.
func backsOff(e *APIError) bool {
	switch e.Code {
	case "device_error", "timeout", "malformed_reply", "media_timeout":
		return true
	}
	return false
}
