package sim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Faults are the failures a simulated device shows on purpose, the ones real
// DJI devices show in the field (docs/field-quirks.md): error codes for a few
// starts in a row, slow or missing replies, a lost MQTT link, a media gap.
// Change them at any time with Inject; one Faults belongs to one device.
type Faults struct {
	mu         sync.Mutex
	startCode  int // reply this code to the next startTimes live_start_push
	startTimes int
	replyDelay time.Duration // delay before every services_reply
	noReply    int           // ignore the next noReply services; -1 = all

	drop chan time.Duration // drop the MQTT connection, stay offline this long
	gap  chan time.Duration // pause every running push this long, then reconnect
	end  chan int           // end every running push with this error_status
}

// NewFaults returns Faults with nothing injected.
func NewFaults() *Faults {
	return &Faults{drop: make(chan time.Duration, 1), gap: make(chan time.Duration, 1), end: make(chan int, 1)}
}

// Injection is one change to Faults; zero fields change nothing. It is also
// the JSON body of the control endpoint's POST /inject.
type Injection struct {
	// StartPushCode is replied, without pushing, to the next StartPushTimes
	// (default 1) live_start_push commands, e.g. 513006 or 513003.
	StartPushCode  int `json:"start_push_code,omitempty"`
	StartPushTimes int `json:"start_push_times,omitempty"`
	// ReplyDelay delays every services_reply from now on; set a negative
	// value (or Clear) to remove the delay.
	ReplyDelay Duration `json:"reply_delay,omitempty"`
	// NoReply makes the device ignore the next N services commands entirely
	// (no action, no reply); -1 ignores all of them until cleared.
	NoReply int `json:"no_reply,omitempty"`
	// DropMQTT closes the MQTT connection without DISCONNECT and reconnects
	// after DropMQTTFor (default 1 s).
	DropMQTT    bool     `json:"drop_mqtt,omitempty"`
	DropMQTTFor Duration `json:"drop_mqtt_for,omitempty"`
	// MediaGap stops sending media on every running push for this long, then
	// reconnects the push to the same URL.
	MediaGap Duration `json:"media_gap,omitempty"`
	// EndPush makes the device end every running push by itself and
	// report it in live_status (status 0), as a dock does when its
	// aircraft lands; EndPushCode, when set, is the error_status reported
	// with it (e.g. 513015: the push broke).
	EndPush     bool `json:"end_push,omitempty"`
	EndPushCode int  `json:"end_push_code,omitempty"`
	// Clear removes every standing fault first.
	Clear bool `json:"clear,omitempty"`
}

// Inject applies in to f.
func (f *Faults) Inject(in Injection) {
	f.mu.Lock()
	if in.Clear {
		f.startCode, f.startTimes, f.replyDelay, f.noReply = 0, 0, 0, 0
	}
	if in.StartPushCode != 0 {
		f.startCode, f.startTimes = in.StartPushCode, max(in.StartPushTimes, 1)
	}
	if in.ReplyDelay != 0 {
		f.replyDelay = max(time.Duration(in.ReplyDelay), 0)
	}
	if in.NoReply != 0 {
		f.noReply = in.NoReply
	}
	f.mu.Unlock()
	if in.DropMQTT {
		d := time.Duration(in.DropMQTTFor)
		if d <= 0 {
			d = time.Second
		}
		replaceOne(f.drop, d)
	}
	if in.MediaGap > 0 {
		replaceOne(f.gap, time.Duration(in.MediaGap))
	}
	if in.EndPush || in.EndPushCode != 0 {
		select {
		case <-f.end:
		default:
		}
		f.end <- in.EndPushCode
	}
}

// replaceOne leaves v as the only pending value of a one-slot channel.
func replaceOne(ch chan time.Duration, v time.Duration) {
	for {
		select {
		case ch <- v:
			return
		default:
			select {
			case <-ch:
			default:
			}
		}
	}
}

// takeStartCode returns the code to fail the next live_start_push with.
func (f *Faults) takeStartCode() (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startTimes <= 0 {
		return 0, false
	}
	f.startTimes--
	return f.startCode, true
}

// takeNoReply says whether to ignore the next services command.
func (f *Faults) takeNoReply() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.noReply < 0:
		return true
	case f.noReply > 0:
		f.noReply--
		return true
	}
	return false
}

func (f *Faults) delay() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.replyDelay
}

// Duration is a time.Duration that reads from JSON as "5s" or as seconds.
type Duration time.Duration

// UnmarshalJSON accepts a Go duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	secs, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration %s: want \"5s\" or a number of seconds", b)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}
