package control

import (
	"encoding/json"
	"strings"
	"time"
)

// Recorder is what the plane tells the recorder of the media gateway
// (gateway/record implements it; the binary wires them together). The
// plane calls it from a device's message handler: both calls must return
// at once (the recorder's OSD drops what its writer cannot take).
type Recorder interface {
	// SetVideo says that path carries the video videoID of device sn,
	// filmed during flight (a dock's flight task or wayline job id, ""
	// when none is known). All three empty: the live session of path
	// ended, and what is recorded there from now on is no DJI video.
	SetVideo(path, sn, videoID, flight string)
	// OSD is one telemetry message of device sn as it arrived, at its
	// arrival time.
	OSD(sn string, at time.Time, osd json.RawMessage)
}

// methodFlightProgress is the dock's event during a flight task.
const methodFlightProgress = "flighttask_progress"

// recordVideo tells the recorder which device and flight s films.
func (p *Plane) recordVideo(s *session) {
	if p.Recorder == nil {
		return
	}
	v := s.view()
	sn, _, _ := strings.Cut(v.VideoID, "/") // a video_id starts with the SN of the device that films
	p.Recorder.SetVideo(v.Path, sn, v.VideoID, v.FlightID)
}

// recordEnded tells the recorder that s no longer drives its path.
func (p *Plane) recordEnded(s *session) {
	if p.Recorder != nil {
		p.Recorder.SetVideo(s.v.Path, "", "", "")
	}
}

// recordOSD hands one well-formed osd message to the recorder.
func (p *Plane) recordOSD(sn string, at time.Time, data json.RawMessage) {
	if p.Recorder != nil && len(data) > 0 {
		p.Recorder.OSD(sn, at, data)
	}
}

// onFlightProgress follows a dock's flight task: the id of the flight goes
// with every live session of that dock (its own cameras and its
// aircraft's), so that their recordings can be found by flight.
//
// DJI's flighttask_progress carries the task's id twice: as the message's
// bid (the flight_id the cloud gave the task, echoed by the dock) and, on
// newer firmware, in data.output.ext.flight_id. The latter wins when
// present, the bid otherwise (docs/dji-cloud-api.md, flight tasks).
func (p *Plane) onFlightProgress(gw, bid string, data json.RawMessage) {
	id, over := flightID(bid, data)
	if id == "" {
		return
	}
	if over {
		p.flights.Delete(gw) // sessions started from now on are of no flight
	} else {
		p.flights.Store(gw, id)
	}
	for _, s := range p.sessions.activeOf(gw) {
		s.mu.Lock()
		changed := s.v.FlightID != id
		s.v.FlightID = id
		s.mu.Unlock()
		if changed {
			s.note("flight %s: recordings of this video carry it", id)
			p.recordVideo(s)
		}
	}
}

// flightID reads a flighttask_progress message's task id (see
// onFlightProgress); "" when it has none. over is true when the task
// reached a final status: the sessions running keep its id, later ones
// do not get it.
func flightID(bid string, data json.RawMessage) (id string, over bool) {
	var d struct {
		Output struct {
			Status string `json:"status"`
			Ext    struct {
				FlightID string `json:"flight_id"`
			} `json:"ext"`
		} `json:"output"`
	}
	_ = json.Unmarshal(data, &d) // a malformed data still has its bid
	id = bid
	if d.Output.Ext.FlightID != "" {
		id = d.Output.Ext.FlightID
	}
	return id, flightOver[d.Output.Status]
}

// flightOver are the final statuses of a flight task.
var flightOver = map[string]bool{"ok": true, "failed": true, "canceled": true, "rejected": true, "timeout": true, "partially_done": true}

// flightOf is the flight the dock gw reported last ("" if none).
func (p *Plane) flightOf(gw string) string {
	if v, ok := p.flights.Load(gw); ok {
		return v.(string)
	}
	return ""
}
