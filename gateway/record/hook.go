package record

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// hookTimeout bounds one run of the segment-complete command.
const hookTimeout = 10 * time.Minute

// runHook runs the record.on_segment_complete command for a finished
// segment, through sh -c, with what it needs in the environment (the same
// idea as mediamtx's runOnRecordSegmentComplete).
func (r *Recorder) runHook(e entry) {
	if r.OnSegmentComplete == "" {
		return
	}
	r.hooks.Add(1)
	go func() {
		defer r.hooks.Done()
		ctx, cancel := context.WithTimeout(context.Background(), hookTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", r.OnSegmentComplete)
		cmd.Env = append(os.Environ(),
			"SKYRELAY_PATH="+e.path,
			"SKYRELAY_SEGMENT_PATH="+e.file,
			"SKYRELAY_SEGMENT_START="+e.start.UTC().Format(time.RFC3339Nano),
			"SKYRELAY_SEGMENT_DURATION="+strconv.FormatFloat(e.dur, 'f', 3, 64),
			"SKYRELAY_SEGMENT_BYTES="+strconv.FormatInt(e.bytes, 10),
			"SKYRELAY_SEGMENT_RUN="+e.run,
			"SKYRELAY_DEVICE_SN="+e.meta.SN,
			"SKYRELAY_VIDEO_ID="+e.meta.VideoID,
			"SKYRELAY_FLIGHT_ID="+e.meta.FlightID,
		)
		out, err := cmd.CombinedOutput()
		if err != nil {
			r.metrics.hookFailures.Add(1)
			r.Log.Warn("on_segment_complete failed", "path", e.path, "segment", e.file, "err", err, "output", tail(out))
			return
		}
		r.Log.Debug("on_segment_complete done", "path", e.path, "segment", e.file)
	}()
}

func tail(b []byte) string {
	if len(b) > 512 {
		b = b[len(b)-512:]
	}
	return fmt.Sprintf("%q", b)
}
