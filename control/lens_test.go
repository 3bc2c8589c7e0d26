package control

import (
	"testing"
)

// TestLiveStatusLensNames: a Dock 3 reports the push of the camera it
// offers as ".../99-0-0/normal-0" under ".../99-0-0/wide-0" (the current
// lens). Entries are matched to the camera by SN and camera index, and
// the lens is shown: video_type when sent, else the lens part.
func TestLiveStatusLensNames(t *testing.T) {
	const dock, air = "DOCKL2", "AIRL2"
	main := air + "/99-0-0/normal-0"
	cases := []struct {
		reported, videoType string
		camera, lens        string // "" camera: matched to none
	}{
		{air + "/99-0-0/normal-0", "zoom", main, "zoom"},
		{air + "/99-0-0/wide-0", "", main, "wide"},
		{air + "/99-0-0/wide-0", "zoom", main, "zoom"},
		{air + "/99-0-0/ir-0", "ir", main, "ir"},
		{air + "/99-0-0/zoom-1", "", main, "zoom"},
		{air + "/176-0-0/normal-0", "normal", air + "/176-0-0/normal-0", "normal"},
		{dock + "/165-0-7/wide-0", "", dock + "/165-0-7/normal-0", "wide"},
		{air + "/88-0-0/wide-0", "wide", "", "wide"}, // a camera it does not offer
		{"OTHER/99-0-0/wide-0", "", "", "wide"},
	}
	for _, c := range cases {
		b := newBare(t)
		b.dock3(dock, air)
		b.in("thing/product/"+dock+"/state", msg(nextTID("ls"), "", map[string]any{"live_status": []any{
			map[string]any{"video_id": c.reported, "video_type": c.videoType, "video_quality": 3, "status": 1, "error_status": 0}}},
			map[string]any{"gateway": dock}))
		d, _ := b.Device(dock)
		if len(d.LiveStatus) != 1 {
			t.Fatalf("%s: live_status %+v", c.reported, d.LiveStatus)
		}
		ls := d.LiveStatus[0]
		want := c.camera
		if want == "" {
			want = c.reported
		}
		if ls.VideoID != want || ls.Lens != c.lens {
			t.Errorf("%s (%q): entry %s lens %q, want %s lens %q", c.reported, c.videoType, ls.VideoID, ls.Lens, want, c.lens)
		}
		if c.camera != "" && c.camera != c.reported && ls.ReportedVideoID != c.reported {
			t.Errorf("%s: reported_video_id %q", c.reported, ls.ReportedVideoID)
		}
		for _, cam := range d.Cameras {
			if cam.VideoID == c.camera && cam.CurrentLens != c.lens {
				t.Errorf("%s: camera %s current_lens %q, want %q", c.reported, cam.VideoID, cam.CurrentLens, c.lens)
			}
		}
	}
}

// TestLiveStatusLensFollowsSession: the session of the camera sees the
// push start, its lens and its end although the dock names another lens.
func TestLiveStatusLensFollowsSession(t *testing.T) {
	const dock, air = "DOCKL3", "AIRL3"
	vid := air + "/99-0-0/normal-0"
	b := newBare(t)
	b.dock3(dock, air)
	b.bus.device = func(topic string, payload []byte) {
		b.in("thing/product/"+dock+"/services_reply", reply(payload, 0))
	}
	s, _, aerr := b.startSession(startRequest{VideoID: vid, Protocol: "rtmp"}, "api")
	if aerr != nil {
		t.Fatal(aerr)
	}
	waitFor(t, "device_accepted", func() bool { return s.view().State == StepAccepted })
	live := func(status int, lens string) {
		b.in("thing/product/"+dock+"/state", msg(nextTID("ls"), "", map[string]any{"live_status": []any{
			map[string]any{"video_id": air + "/99-0-0/wide-0", "video_type": lens, "video_quality": 3, "status": status, "error_status": 0}}},
			map[string]any{"gateway": dock}))
	}
	live(1, "wide")
	if v := s.view(); v.State != StepMediaArriving || v.Lens != "wide" {
		t.Fatalf("after live_status wide-0 live: %s lens %q", v.State, v.Lens)
	}
	b.media.setReady(vid)
	waitFor(t, "playable", func() bool { return s.view().State == StepPlayable })
	live(1, "zoom")
	if v := s.view(); v.Lens != "zoom" {
		t.Errorf("lens after a change: %q", v.Lens)
	}
	live(0, "zoom")
	v := s.view()
	if v.State != StepStopped || v.End == nil || v.End.Cause != EndDevice {
		t.Fatalf("after live_status wide-0 ended: %s %+v", v.State, v.End)
	}
}
