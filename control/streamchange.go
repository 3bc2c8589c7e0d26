package control

// StreamChange is what the stream core reports about a path. The plane
// reads media state through the Media adapter and hears of changes through
// StreamEvent; the kinds are typed so that a misspelt kind fails to build
// instead of being ignored.
type StreamChange uint8

const (
	StreamReady   StreamChange = iota + 1 // the stream became playable (event stream only)
	StreamGone                            // the stream ended for good
	StreamReaders                         // the number of readers changed
	StreamLost                            // the publisher dropped; the grace period runs
	StreamBack                            // the publisher returned within the grace period
)

// String is the kind's name in the event stream (`/api/v1/events`).
func (c StreamChange) String() string {
	switch c {
	case StreamReady:
		return "ready"
	case StreamGone:
		return "gone"
	case StreamReaders:
		return "readers"
	case StreamLost:
		return "lost"
	case StreamBack:
		return "back"
	}
	return "unknown"
}
