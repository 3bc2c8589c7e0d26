package sim

import (
	"encoding/json"
	"log/slog"
	"time"

	"github.com/skyrelay/skyrelay/conf"
)

// service carries out one services command and returns its reply data.
func (dev *device) service(req envelope, log *slog.Logger) result {
	switch req.Method {
	case "live_start_push":
		return dev.liveStart(req.Data, log)
	case "live_stop_push":
		return dev.liveStop(req.Data, log)
	case "live_set_quality":
		return dev.liveSetQuality(req.Data, log)
	case "live_lens_change":
		return dev.liveLensChange(req.Data, log)
	}
	log.Info("services command accepted without action")
	return result{}
}

// liveParams is the data of the live_* services (docs/dji-cloud-api.md, "Services and replies").
type liveParams struct {
	URLType      *int   `json:"url_type"`
	URL          string `json:"url"`
	VideoID      string `json:"video_id"`
	VideoQuality *int   `json:"video_quality"`
	VideoType    string `json:"video_type"`
}

func (dev *device) fail(reason int) result { return result{Result: dev.m.code(reason)} }

func (dev *device) liveStart(data json.RawMessage, log *slog.Logger) result {
	var p liveParams
	if err := json.Unmarshal(data, &p); err != nil || p.URLType == nil || p.URL == "" {
		log.Warn("live_start_push without url_type and url", "err", err)
		return dev.fail(reasonBadURL)
	}
	log = log.With("video_id", p.VideoID, "url_type", *p.URLType)
	if code, ok := dev.faults.takeStartCode(); ok {
		log.Warn("fault: failing live_start_push", "result", code)
		return result{Result: code}
	}
	cam, reason := dev.m.cameraByID(p.VideoID)
	if cam == nil {
		log.Warn("live_start_push for an unknown video_id")
		return dev.fail(reason)
	}
	quality := 0
	if p.VideoQuality != nil {
		quality = *p.VideoQuality
	}
	if quality < 0 || quality > 4 {
		return dev.fail(reasonBadQuality)
	}
	newPusher := pushers[*p.URLType]
	if newPusher == nil {
		log.Warn("url_type not supported by the simulator yet")
		return dev.fail(reasonURLTypeUnsup)
	}
	dev.mu.Lock()
	_, live := dev.sessions[cam]
	dev.mu.Unlock()
	if live {
		return dev.fail(reasonAlreadyLive)
	}

	s := &session{pusher: newPusher(), gap: make(chan time.Duration, 1)}
	if *p.URLType == urlTypeRTMP || *p.URLType == urlTypeWHIP {
		log = log.With("url", conf.RedactURL(p.URL))
	}
	err := s.pusher.start(dev.ctx, pushRequest{
		url: p.URL, videoID: p.VideoID, clip: dev.clip, quirks: dev.quirks, log: log, gap: s.gap,
		onHealth:   func(reason int) { dev.setHealth(cam, reason) },
		onResumed:  func() { dev.note(Note{Kind: NotePushResumed, VideoID: p.VideoID}) },
		rtspListen: dev.opts.RTSPListen, rtspHost: dev.opts.RTSPHost,
	})
	if err != nil {
		log.Warn("push could not start", "err", err)
		return dev.fail(reasonOf(err))
	}

	dev.mu.Lock()
	dev.sessions[cam] = s
	s.entry = dev.entry(cam)
	*s.entry = liveStatus{VideoID: dev.m.statusVideoID(cam, p.VideoID), VideoType: cam.lens, VideoQuality: quality, Status: 1}
	dev.mu.Unlock()
	log.Info("push started", "quality", quality, "stream_quirks", dev.quirks)
	dev.note(Note{Kind: NotePushStarted, VideoID: p.VideoID})
	dev.sendLiveStatus()
	if r, ok := s.pusher.(replier); ok {
		if dev.opts.RTSPReplyInfo {
			return result{Info: r.output()}
		}
		return result{Output: r.output()}
	}
	return result{}
}

// entry returns cam's live_status entry, adding it on first use. Call with
// dev.mu held.
func (dev *device) entry(cam *camera) *liveStatus {
	for _, e := range dev.status {
		if c, _ := dev.m.cameraByID(e.VideoID); c == cam {
			return e
		}
	}
	e := &liveStatus{VideoID: cam.videoID(), VideoType: cam.lens}
	dev.status = append(dev.status, e)
	return e
}

func (dev *device) liveStop(data json.RawMessage, log *slog.Logger) result {
	var p liveParams
	_ = json.Unmarshal(data, &p)
	log = log.With("video_id", p.VideoID)
	cam, _ := dev.m.cameraByID(p.VideoID)
	dev.mu.Lock()
	s := dev.sessions[cam]
	delete(dev.sessions, cam)
	dev.mu.Unlock()
	if s == nil {
		log.Warn("live_stop_push: nothing is live for this video_id")
		return dev.fail(reasonNotLive)
	}
	s.pusher.stop()
	dev.mu.Lock()
	s.entry.Status, s.entry.ErrorStatus = 0, 0
	dev.mu.Unlock()
	log.Info("push stopped")
	dev.note(Note{Kind: NotePushStopped, VideoID: p.VideoID})
	dev.sendLiveStatus()
	return result{}
}

func (dev *device) liveSetQuality(data json.RawMessage, log *slog.Logger) result {
	var p liveParams
	_ = json.Unmarshal(data, &p)
	if p.VideoQuality == nil || *p.VideoQuality < 0 || *p.VideoQuality > 4 {
		return dev.fail(reasonBadQuality)
	}
	cam, _ := dev.m.cameraByID(p.VideoID)
	dev.mu.Lock()
	s := dev.sessions[cam]
	if s != nil {
		s.entry.VideoQuality = *p.VideoQuality
	}
	dev.mu.Unlock()
	if s == nil {
		return dev.fail(reasonNotLive)
	}
	log.Info("quality changed", "video_id", p.VideoID, "video_quality", *p.VideoQuality)
	dev.sendLiveStatus()
	return result{}
}

// liveLensChange switches a camera's lens. Dock requests may name only the
// video_type (live_lens_change in docs/dji-cloud-api.md): then the aircraft's switchable camera is meant.
func (dev *device) liveLensChange(data json.RawMessage, log *slog.Logger) result {
	var p liveParams
	_ = json.Unmarshal(data, &p)
	lens := p.VideoType
	if lens == "thermal" { // the RC docs' name for the infrared lens
		lens = "ir"
	}
	var cam *camera
	if p.VideoID != "" {
		var reason int
		if cam, reason = dev.m.cameraByID(p.VideoID); cam == nil {
			return dev.fail(reason)
		}
	} else {
		for _, c := range dev.m.cameras {
			if len(c.switchable) > 1 {
				cam = c
				break
			}
		}
	}
	if cam == nil || !contains(cam.switchable, lens) {
		log.Warn("live_lens_change to a lens the camera does not have", "video_type", p.VideoType)
		return dev.fail(reasonUnsupported)
	}
	dev.mu.Lock()
	cam.lens = lens
	s := dev.sessions[cam]
	if s != nil {
		s.entry.VideoType = lens
	}
	dev.mu.Unlock()
	log.Info("lens changed", "video_id", cam.videoID(), "video_type", lens)
	dev.sendCapacity()
	if s != nil {
		dev.sendLiveStatus()
	}
	return result{}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// setHealth records a push's error_status and publishes live_status when
// it changes.
func (dev *device) setHealth(cam *camera, reason int) {
	code := 0
	if reason != 0 {
		code = dev.m.code(reason)
	}
	dev.mu.Lock()
	s := dev.sessions[cam]
	changed := s != nil && s.entry.ErrorStatus != code
	if changed {
		s.entry.ErrorStatus = code
	}
	dev.mu.Unlock()
	if changed {
		dev.note(Note{Kind: NotePushHealth, VideoID: s.entry.VideoID, Result: code})
		dev.sendLiveStatus()
	}
}

// mediaGap asks every running push to pause for d and then reconnect.
func (dev *device) mediaGap(d time.Duration) {
	dev.mu.Lock()
	defer dev.mu.Unlock()
	if len(dev.sessions) == 0 {
		dev.log.Warn("fault: media gap asked for, but nothing is pushing")
	}
	for _, s := range dev.sessions {
		dev.log.Warn("fault: media gap", "video_id", s.entry.VideoID, "for", d)
		replaceOne(s.gap, d)
	}
}

// endPushes ends every running push on the device's own initiative (the
// aircraft landed, the link broke) and reports it in live_status: status
// 0, with errorStatus when it is not 0.
func (dev *device) endPushes(errorStatus int) {
	dev.mu.Lock()
	sessions := dev.sessions
	dev.sessions = map[*camera]*session{}
	for _, s := range sessions {
		s.entry.Status, s.entry.ErrorStatus = 0, errorStatus
	}
	dev.mu.Unlock()
	if len(sessions) == 0 {
		dev.log.Warn("fault: ending pushes asked for, but nothing is pushing")
		return
	}
	for _, s := range sessions {
		s.pusher.stop()
		dev.log.Warn("fault: push ended by the device", "video_id", s.entry.VideoID, "error_status", errorStatus)
		dev.note(Note{Kind: NotePushStopped, VideoID: s.entry.VideoID, Result: errorStatus})
	}
	dev.sendLiveStatus()
}

// stopAll ends every push when the simulation ends.
func (dev *device) stopAll() {
	dev.mu.Lock()
	sessions := dev.sessions
	dev.sessions = map[*camera]*session{}
	dev.mu.Unlock()
	for _, s := range sessions {
		s.pusher.stop()
	}
}
