package whepclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// StartTimeout bounds one viewer's signalling and connection in
// StartViewers.
const StartTimeout = 20 * time.Second

// StartViewers connects n clients to one WHEP URL, at most 8 signalling
// at a time (a crowd arriving at once). It returns the clients that
// connected and, joined, the errors of those that did not (closed already):
// under load a few failures are a result, not a reason to lose the rest.
// tune, if set, adjusts each client before it starts.
func StartViewers(ctx context.Context, url string, n int, tune func(*Client)) ([]*Client, error) {
	cs := make([]*Client, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range cs {
		c := &Client{URL: url}
		if tune != nil {
			tune(c)
		}
		cs[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			sctx, cancel := context.WithTimeout(ctx, StartTimeout)
			errs[i] = c.Start(sctx)
			cancel()
			<-sem
		}()
	}
	wg.Wait()
	var ok []*Client
	var failed []error
	for i, err := range errs {
		if err != nil {
			cs[i].Close()
			failed = append(failed, fmt.Errorf("viewer %d of %d: %w", i+1, n, err))
			continue
		}
		ok = append(ok, cs[i])
	}
	return ok, errors.Join(failed...)
}

// CloseAll closes clients in parallel.
func CloseAll(cs []*Client) {
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() { defer wg.Done(); c.Close() }()
	}
	wg.Wait()
}

// Summary is what a crowd of viewers received over a window.
type Summary struct {
	Viewers       int
	Window        time.Duration
	MinFrames     int     // the worst viewer's video frames in the window
	MeanFPS       float64 // mean video frames per second per viewer
	Lost          int     // sequence gaps over all viewers
	Bytes         int     // video payload bytes over all viewers
	MaxFirstFrame time.Duration
}

// Measure waits for window and summarises what the clients received in it.
func Measure(ctx context.Context, cs []*Client, window time.Duration) (Summary, error) {
	before := make([]Stats, len(cs))
	for i, c := range cs {
		before[i] = c.Stats()
	}
	start := time.Now()
	select {
	case <-time.After(window):
	case <-ctx.Done():
		return Summary{}, ctx.Err()
	}
	elapsed := time.Since(start)
	s := Summary{Viewers: len(cs), Window: elapsed, MinFrames: -1}
	total := 0
	for i, c := range cs {
		st := c.Stats()
		f := st.VideoFrames - before[i].VideoFrames
		total += f
		if s.MinFrames < 0 || f < s.MinFrames {
			s.MinFrames = f
		}
		s.Lost += st.Lost - before[i].Lost
		s.Bytes += st.VideoBytes - before[i].VideoBytes
		if !st.FirstVideoPacket.IsZero() && !st.Answered.IsZero() {
			if d := st.FirstVideoPacket.Sub(st.Answered); d > s.MaxFirstFrame {
				s.MaxFirstFrame = d
			}
		}
	}
	if len(cs) > 0 {
		s.MeanFPS = float64(total) / float64(len(cs)) / elapsed.Seconds()
	}
	return s, nil
}
