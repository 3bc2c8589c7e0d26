package webrtc_test

import (
	"context"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/webrtc/whepclient"
)

// A pion viewer on UDP gets its units corked (on Linux, with GSO) and
// loses nothing; one on ICE-TCP is never corked. The count comes from the
// session's end-of-viewer log line, written before DELETE answers.
func TestWHEPBatchesUnits(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		t.Run("tcp="+strconv.FormatBool(tcp), func(t *testing.T) {
			e, _ := publishedEnv(t, "live/a", clipSmall)
			cl := &whepclient.Client{URL: e.whep("live/a"), TCP: tcp}
			startClient(t, cl)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := cl.WaitVideoFrames(ctx, 60); err != nil {
				t.Fatal(err)
			}
			if st := cl.Stats(); st.Lost != 0 || st.AudioPackets == 0 {
				t.Fatalf("lost %d packets, %d audio packets", st.Lost, st.AudioPackets)
			}
			if status, err := cl.Delete(ctx); err != nil || status != 200 {
				t.Fatalf("DELETE: %d %v", status, err)
			}
			ended := e.logs.Lines("webrtc viewer ended")
			if len(ended) != 1 {
				t.Fatalf("%d end-of-viewer log lines", len(ended))
			}
			m := regexp.MustCompile(`batched_units=(\d+)`).FindStringSubmatch(ended[0])
			if m == nil {
				t.Fatalf("no batched_units in %q", ended[0])
			}
			n, _ := strconv.Atoi(m[1])
			switch {
			case tcp || runtime.GOOS != "linux":
				if n != 0 {
					t.Fatalf("%d units corked, want none", n)
				}
			case n < 60:
				// At least the 60 video frames received, plus audio.
				t.Fatalf("%d units corked, want every unit sent (60 frames or more)", n)
			}
		})
	}
}
