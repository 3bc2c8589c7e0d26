package sim

import (
	"encoding/json"
	"log/slog"
	"time"
)

// service carries out one services command and returns its reply data.
func (g *gateway) service(req envelope, log *slog.Logger) result {
	switch req.Method {
	case "live_start_push":
		return g.liveStart(req.Data, log)
	case "live_stop_push":
		return g.liveStop(req.Data, log)
	case "live_set_quality":
		return g.liveSetQuality(req.Data, log)
	case "live_lens_change":
		return g.liveLensChange(req.Data, log)
	}
	log.Info("services command accepted without action")
	return result{}
}

// liveParams is the data of the live_* services (§8).
type liveParams struct {
	URLType      *int   `json:"url_type"`
	URL          string `json:"url"`
	VideoID      string `json:"video_id"`
	VideoQuality *int   `json:"video_quality"`
	VideoType    string `json:"video_type"`
}

func (g *gateway) fail(reason int) result { return result{Result: g.m.code(reason)} }

func (g *gateway) liveStart(data json.RawMessage, log *slog.Logger) result {
	var p liveParams
	if err := json.Unmarshal(data, &p); err != nil || p.URLType == nil || p.URL == "" {
		log.Warn("live_start_push without url_type and url", "err", err)
		return g.fail(reasonBadURL)
	}
	log = log.With("video_id", p.VideoID, "url_type", *p.URLType)
	if code, ok := g.faults.takeStartCode(); ok {
		log.Warn("fault: failing live_start_push", "result", code)
		return result{Result: code}
	}
	cam, reason := g.m.cameraByID(p.VideoID)
	if cam == nil {
		log.Warn("live_start_push for an unknown video_id")
		return g.fail(reason)
	}
	quality := 0
	if p.VideoQuality != nil {
		quality = *p.VideoQuality
	}
	if quality < 0 || quality > 4 {
		return g.fail(reasonBadQuality)
	}
	newPusher := pushers[*p.URLType]
	if newPusher == nil {
		log.Warn("url_type not supported by the simulator yet")
		return g.fail(reasonURLTypeUnsup)
	}
	g.mu.Lock()
	_, live := g.sessions[cam]
	g.mu.Unlock()
	if live {
		return g.fail(reasonAlreadyLive)
	}

	s := &session{pusher: newPusher(), gap: make(chan time.Duration, 1)}
	if *p.URLType == urlTypeRTMP || *p.URLType == urlTypeWHIP {
		log = log.With("url", redactURL(p.URL))
	}
	err := s.pusher.start(g.ctx, pushRequest{
		url: p.URL, videoID: p.VideoID, clip: g.clip, quirks: g.quirks, log: log, gap: s.gap,
		onHealth:   func(reason int) { g.setHealth(cam, reason) },
		onResumed:  func() { g.note(Note{Kind: NotePushResumed, VideoID: p.VideoID}) },
		rtspListen: g.opts.RTSPListen, rtspHost: g.opts.RTSPHost,
	})
	if err != nil {
		log.Warn("push could not start", "err", err)
		return g.fail(reasonOf(err))
	}

	g.mu.Lock()
	g.sessions[cam] = s
	s.entry = g.entry(cam)
	*s.entry = liveStatus{VideoID: p.VideoID, VideoType: cam.lens, VideoQuality: quality, Status: 1}
	g.mu.Unlock()
	log.Info("push started", "quality", quality, "stream_quirks", g.quirks)
	g.note(Note{Kind: NotePushStarted, VideoID: p.VideoID})
	g.sendLiveStatus()
	if r, ok := s.pusher.(replier); ok {
		if g.opts.RTSPReplyInfo {
			return result{Info: r.output()}
		}
		return result{Output: r.output()}
	}
	return result{}
}

// entry returns cam's live_status entry, adding it on first use. Call with
// g.mu held.
func (g *gateway) entry(cam *camera) *liveStatus {
	for _, e := range g.status {
		if c, _ := g.m.cameraByID(e.VideoID); c == cam {
			return e
		}
	}
	e := &liveStatus{VideoID: cam.videoID(), VideoType: cam.lens}
	g.status = append(g.status, e)
	return e
}

func (g *gateway) liveStop(data json.RawMessage, log *slog.Logger) result {
	var p liveParams
	_ = json.Unmarshal(data, &p)
	log = log.With("video_id", p.VideoID)
	cam, _ := g.m.cameraByID(p.VideoID)
	g.mu.Lock()
	s := g.sessions[cam]
	delete(g.sessions, cam)
	g.mu.Unlock()
	if s == nil {
		log.Warn("live_stop_push: nothing is live for this video_id")
		return g.fail(reasonNotLive)
	}
	s.pusher.stop()
	g.mu.Lock()
	s.entry.Status, s.entry.ErrorStatus = 0, 0
	g.mu.Unlock()
	log.Info("push stopped")
	g.note(Note{Kind: NotePushStopped, VideoID: p.VideoID})
	g.sendLiveStatus()
	return result{}
}

func (g *gateway) liveSetQuality(data json.RawMessage, log *slog.Logger) result {
	var p liveParams
	_ = json.Unmarshal(data, &p)
	if p.VideoQuality == nil || *p.VideoQuality < 0 || *p.VideoQuality > 4 {
		return g.fail(reasonBadQuality)
	}
	cam, _ := g.m.cameraByID(p.VideoID)
	g.mu.Lock()
	s := g.sessions[cam]
	if s != nil {
		s.entry.VideoQuality = *p.VideoQuality
	}
	g.mu.Unlock()
	if s == nil {
		return g.fail(reasonNotLive)
	}
	log.Info("quality changed", "video_id", p.VideoID, "video_quality", *p.VideoQuality)
	g.sendLiveStatus()
	return result{}
}

// liveLensChange switches a camera's lens. Dock requests may name only the
// video_type (§8.4): then the aircraft's switchable camera is meant.
func (g *gateway) liveLensChange(data json.RawMessage, log *slog.Logger) result {
	var p liveParams
	_ = json.Unmarshal(data, &p)
	lens := p.VideoType
	if lens == "thermal" { // the RC docs' name for the infrared lens
		lens = "ir"
	}
	var cam *camera
	if p.VideoID != "" {
		var reason int
		if cam, reason = g.m.cameraByID(p.VideoID); cam == nil {
			return g.fail(reason)
		}
	} else {
		for _, c := range g.m.cameras {
			if len(c.switchable) > 1 {
				cam = c
				break
			}
		}
	}
	if cam == nil || !contains(cam.switchable, lens) {
		log.Warn("live_lens_change to a lens the camera does not have", "video_type", p.VideoType)
		return g.fail(reasonUnsupported)
	}
	g.mu.Lock()
	cam.lens = lens
	s := g.sessions[cam]
	if s != nil {
		s.entry.VideoType = lens
	}
	g.mu.Unlock()
	log.Info("lens changed", "video_id", cam.videoID(), "video_type", lens)
	g.sendCapacity()
	if s != nil {
		g.sendLiveStatus()
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
func (g *gateway) setHealth(cam *camera, reason int) {
	code := 0
	if reason != 0 {
		code = g.m.code(reason)
	}
	g.mu.Lock()
	s := g.sessions[cam]
	changed := s != nil && s.entry.ErrorStatus != code
	if changed {
		s.entry.ErrorStatus = code
	}
	g.mu.Unlock()
	if changed {
		g.note(Note{Kind: NotePushHealth, VideoID: s.entry.VideoID, Result: code})
		g.sendLiveStatus()
	}
}

// mediaGap asks every running push to pause for d and then reconnect.
func (g *gateway) mediaGap(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.sessions) == 0 {
		g.log.Warn("fault: media gap asked for, but nothing is pushing")
	}
	for _, s := range g.sessions {
		g.log.Warn("fault: media gap", "video_id", s.entry.VideoID, "for", d)
		replaceOne(s.gap, d)
	}
}

// stopAll ends every push when the simulation ends.
func (g *gateway) stopAll() {
	g.mu.Lock()
	sessions := g.sessions
	g.sessions = map[*camera]*session{}
	g.mu.Unlock()
	for _, s := range sessions {
		s.pusher.stop()
	}
}
