package control

import (
	"encoding/json"
	"testing"
)

// dock3OSDFragments are the osd shapes a Dock 3 sends in turn, with no
// keys in common (docs/dji-cloud-api.md, osd).
var dock3OSDFragments = []map[string]any{
	{"mode_code": 0, "cover_state": 0, "latitude": 22.5797, "longitude": 113.9431, "height": 32.1, "putter_state": 0, "supplement_light_state": 0},
	{"network_state": map[string]any{"type": 2, "quality": 4, "rate": 5.2}, "drone_in_dock": 1, "drone_charge_state": map[string]any{"state": 0, "capacity_percent": 100}},
	{"media_file_detail": map[string]any{"remain_upload": 0}, "wireless_link": map[string]any{"4g_freq_band": 2.4, "sdr_quality": 5}},
	{"job_number": 12, "acc_time": 3600, "activation_time": 1700000000, "maintain_status": map[string]any{"maintain_status_array": []any{}}},
}

// TestOSDFragmentsMerge: after every fragment, each key holds its latest
// value; a flight changing mode_code and cover_state in one fragment keeps
// the others' keys.
func TestOSDFragmentsMerge(t *testing.T) {
	const dock, air = "DOCKO", "AIRO"
	steps := []struct {
		name  string
		data  map[string]any
		want  map[string]string // key -> JSON value expected after this step
		never []string
	}{
		{"position fragment", dock3OSDFragments[0], map[string]string{"mode_code": "0", "cover_state": "0", "latitude": "22.5797"}, nil},
		{"network fragment", dock3OSDFragments[1], map[string]string{"mode_code": "0", "drone_in_dock": "1", "cover_state": "0"}, nil},
		{"media fragment", dock3OSDFragments[2], map[string]string{"latitude": "22.5797", "drone_in_dock": "1", "media_file_detail": `{"remain_upload":0}`}, nil},
		{"job fragment", dock3OSDFragments[3], map[string]string{"mode_code": "0", "job_number": "12", "height": "32.1"}, nil},
		{"flight: mode and cover change", map[string]any{"mode_code": 4, "cover_state": 1, "latitude": 22.5797, "longitude": 113.9431, "height": 32.1},
			map[string]string{"mode_code": "4", "cover_state": "1", "drone_in_dock": "1", "job_number": "12"}, nil},
		{"aircraft left", map[string]any{"drone_in_dock": 0, "network_state": map[string]any{"type": 2, "quality": 3, "rate": 1.1}},
			map[string]string{"mode_code": "4", "cover_state": "1", "drone_in_dock": "0", "latitude": "22.5797"}, nil},
	}
	b := newBare(t)
	b.dock3(dock, air)
	for _, s := range steps {
		b.in("thing/product/"+dock+"/osd", msg(nextTID("osd"), "", s.data, map[string]any{"gateway": dock}))
		d, _ := b.Device(dock)
		var got map[string]json.RawMessage
		if err := json.Unmarshal(d.OSD, &got); err != nil {
			t.Fatalf("%s: osd %s: %v", s.name, d.OSD, err)
		}
		for k, want := range s.want {
			if string(got[k]) != want {
				t.Errorf("after %s: osd %s = %s, want %s", s.name, k, got[k], want)
			}
		}
	}
	// The aircraft's osd is merged apart from the dock's.
	b.in("thing/product/"+air+"/osd", msg(nextTID("osd"), "", map[string]any{"mode_code": 14, "elevation": 0}, map[string]any{"gateway": dock}))
	b.in("thing/product/"+air+"/osd", msg(nextTID("osd"), "", map[string]any{"battery": map[string]any{"capacity_percent": 90}}, map[string]any{"gateway": dock}))
	d, _ := b.Device(dock)
	s, _ := subOf(d, air)
	var air1 map[string]json.RawMessage
	_ = json.Unmarshal(s.OSD, &air1)
	if string(air1["mode_code"]) != "14" || air1["battery"] == nil || air1["cover_state"] != nil {
		t.Errorf("aircraft osd = %s", s.OSD)
	}
}
