package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// url_type values of live_start_push (docs/dji-cloud-api.md, "url formats per url_type").
const (
	urlTypeAgora   = 0
	urlTypeRTMP    = 1
	urlTypeRTSP    = 2
	urlTypeGB28181 = 3
	urlTypeWHIP    = 4
)

// A pusher carries one camera's video to the cloud in one url_type's way.
// Each live_start_push gets its own pusher.
type pusher interface {
	// start begins the push and returns once it is flowing, or with a
	// *pushError saying why it could not start. The push goes on until stop
	// or until ctx ends.
	start(ctx context.Context, req pushRequest) error
	// stop ends the push and waits until it has.
	stop()
}

// pushRequest is what a pusher needs to know.
type pushRequest struct {
	url     string // the url of live_start_push, format per url_type
	videoID string
	clip    *clip
	quirks  bool // add DJI Dock stream quirks (see quirks.go)
	log     *slog.Logger
	// gap delivers media-gap requests: pause this long, then reconnect.
	gap <-chan time.Duration
	// onHealth reports the push's error_status: reasonCongestion while the
	// connection is broken and being retried, 0 once media flows again.
	onHealth func(reason int)
	// onResumed is called when media flows again after a gap or a break.
	onResumed func()
	// rtspListen, rtspHost: see Options.RTSPListen and RTSPHost.
	rtspListen, rtspHost string
}

// replier is a pusher whose start produces reply data: url_type 2 replies
// the URL of the RTSP server it runs.
type replier interface {
	output() string
}

// pushers makes a pusher for each supported url_type. Agora (url_type 0)
// needs Agora's SDK and answers x13013 (url_type not supported).
var pushers = map[int]func() pusher{
	urlTypeRTMP:    func() pusher { return &rtmpPusher{} },
	urlTypeRTSP:    func() pusher { return &rtspServerPusher{} },
	urlTypeWHIP:    func() pusher { return &whipPusher{} },
	urlTypeGB28181: func() pusher { return &gbPusher{} },
}

// pushError is a failure to start, with its module-13 reason.
type pushError struct {
	reason int
	err    error
}

func (e *pushError) Error() string { return fmt.Sprintf("reason %d: %v", e.reason, e.err) }
func (e *pushError) Unwrap() error { return e.err }

// reasonOf extracts the module-13 reason of a start failure.
func reasonOf(err error) int {
	var pe *pushError
	if errors.As(err, &pe) {
		return pe.reason
	}
	return reasonUnknownFailure
}
