package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// pullURL takes the RTSP URL a device returns in live_start_push's reply
// for url_type 2 (docs/dji-cloud-api.md, url_type): in data.output (current SDK) or
// data.info (legacy Pilot; parseReply already falls back to it), as a
// string or as an object holding the URL ({"url": "rtsp://..."}, or any
// string member that is an rtsp:// URL).
func pullURL(raw json.RawMessage) (string, error) {
	if cloudapi.IsNull(raw) {
		return "", errors.New("the reply carries no pull URL in data.output or data.info")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return checkPullURL(s)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", errors.New("data.output is neither a string nor an object")
	}
	for _, k := range []string{"url", "rtsp_url", "info", "output"} {
		if v, ok := obj[k]; ok {
			if u, err := pullURL(v); err == nil {
				return u, nil
			}
		}
	}
	for _, v := range obj {
		if json.Unmarshal(v, &s) == nil && isRTSP(s) {
			return checkPullURL(s)
		}
	}
	return "", errors.New("data.output holds no rtsp:// URL")
}

func isRTSP(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(s, "rtsp://") || strings.HasPrefix(s, "rtsps://")
}

func checkPullURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !isRTSP(s) {
		return "", errors.New("the pull URL is not an rtsp:// URL")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", errors.New("the pull URL is not a valid rtsp:// URL")
	}
	return s, nil
}

// startPull asks the media gateway to pull the URL the device replied with
// onto the session's path, for as long as the session lives: the pull's
// stop runs with the session's revoke.
func (p *Plane) startPull(s *session, output json.RawMessage) *APIError {
	v := s.view()
	u, err := pullURL(output)
	if err != nil {
		return &APIError{Status: http.StatusBadGateway, Code: "bad_reply",
			Message: "the device accepted live_start_push (url_type 2) but " + err.Error()}
	}
	stop, err := p.Media.Pull(v.Path, u)
	if err != nil {
		return &APIError{Status: http.StatusServiceUnavailable, Code: "media_unavailable",
			Message: fmt.Sprintf("cannot pull %s: %v", conf.RedactURL(u), err)}
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		stop()
		return nil
	}
	revoke := s.revoke
	s.revoke = func() {
		stop()
		if revoke != nil {
			revoke()
		}
	}
	s.mu.Unlock()
	s.note("pulling %s from the device", conf.RedactURL(u))
	return nil
}
