package control

import "context"

// Media is what the control plane needs from the media gateway.
type Media interface {
	// MintPush returns the URL (or url_type-specific string) a device must push path to, carrying a
	// secret valid for this one push session (reconnects of the same session included) until revoke is called.
	MintPush(path, protocol string) (url string, revoke func(), err error)
	// WaitReady blocks until path has a publisher whose stream is playable (a keyframe arrived) or ctx ends.
	WaitReady(ctx context.Context, path string) error
	// PlayURLs returns the viewer URLs of path: whep, hls, rtsp, page.
	PlayURLs(path string) PlayURLs
	// Readers returns how many viewers path has now.
	Readers(path string) int
	// Receives tells whether the gateway can take a stream of protocol
	// (rtmp, rtsp, gb28181, whip).
	Receives(protocol string) bool
	// Pull pulls a stream a device serves onto path until stop: in
	// url_type 2 the remote controller runs an RTSP server and replies
	// with its URL.
	Pull(path, url string) (stop func(), err error)
}

// PlayURLs are the viewer URLs of a path.
type PlayURLs struct {
	WHEP string `json:"whep"`
	HLS  string `json:"hls"`
	RTSP string `json:"rtsp"`
	Page string `json:"page"`
}

// urlTypes maps a protocol to live_start_push's url_type (docs/dji-cloud-api.md, url_type). A session
// needs nothing else protocol-specific: the media gateway's MintPush builds
// the url string in that protocol's format.
var urlTypes = map[string]int{"rtmp": 1, "rtsp": 2, "gb28181": 3, "whip": 4}

// implemented are the protocols the control plane can drive; the others
// answer 501, and so do those the media gateway says it cannot receive.
var implemented = map[string]bool{"rtmp": true, "rtsp": true, "whip": true, "gb28181": true}

// receives tells whether m can take a push (or pull) of protocol.
func receives(m Media, protocol string) bool {
	return implemented[protocol] && m.Receives(protocol)
}
