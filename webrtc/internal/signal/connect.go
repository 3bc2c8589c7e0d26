package signal

import (
	"context"
	"errors"
	"fmt"

	"github.com/pion/webrtc/v4"
)

// Connect applies the endpoint's answer to pc and waits until the peer
// connection is up (connected closes), fails (failed closes) or ctx ends.
func Connect(ctx context.Context, pc *webrtc.PeerConnection, answer string, connected, failed <-chan struct{}) error {
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("applying the answer: %w", err)
	}
	select {
	case <-connected:
		return nil
	case <-failed:
		return errors.New("the peer connection failed")
	case <-ctx.Done():
		return fmt.Errorf("not connected: %w", ctx.Err())
	}
}
