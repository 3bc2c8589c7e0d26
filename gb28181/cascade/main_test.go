package cascade

import (
	"os"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestMain shortens SIP's timers (T1 500 ms → 50 ms): on loopback nothing
// needs the long ones, and a 200 never ACKed then gives up in 3.2 s, not
// 32 s.
func TestMain(m *testing.M) {
	sip.SetTimers(50*time.Millisecond, 400*time.Millisecond, 500*time.Millisecond)
	os.Exit(m.Run())
}
