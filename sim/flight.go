package sim

// sendFlightProgress reports the flight task Options.FlightID as running,
// as a dock does about once a second during a wayline flight: the
// flighttask_progress event, with the task's flight_id both as the bid
// (the dock echoes the bid of the cloud's flighttask_prepare) and in
// data.output.ext.flight_id (newer firmware), need_reply set.
func (dev *device) sendFlightProgress() {
	id := dev.opts.FlightID
	sn := dev.m.device.sn
	dev.mu.Lock()
	dev.flightStep++
	step := dev.flightStep
	dev.mu.Unlock()
	msg := newMessage("flighttask_progress", sn, map[string]any{"result": 0, "output": map[string]any{
		"status":   "in_progress",
		"progress": map[string]any{"current_step": 19, "percent": min(step, 99)},
		"ext": map[string]any{"flight_id": id, "current_waypoint_index": step, "wayline_mission_state": 5,
			"media_count": 0, "track_id": "", "wayline_id": 0},
	}})
	msg.BID = id
	need := 1
	msg.NeedReply = &need
	dev.publish(topicEvents(sn), msg)
}
