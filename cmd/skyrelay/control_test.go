package main

import (
	"testing"

	"github.com/skyrelay/skyrelay/gateway"
)

// Every kind the stream core emits reaches the control plane under the same
// name, so the event stream says what the core said.
func TestStreamChangesCoverEveryKind(t *testing.T) {
	kinds := []gateway.EventKind{gateway.EventReady, gateway.EventGone, gateway.EventReaders, gateway.EventLost, gateway.EventBack}
	if len(streamChanges) != len(kinds) {
		t.Fatalf("streamChanges maps %d kinds, the core has %d", len(streamChanges), len(kinds))
	}
	for _, k := range kinds {
		c, ok := streamChanges[k]
		if !ok {
			t.Errorf("kind %q does not reach the control plane", k)
			continue
		}
		if c.String() != string(k) {
			t.Errorf("kind %q reaches control as %q", k, c)
		}
	}
}
