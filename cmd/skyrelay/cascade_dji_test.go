package main

import (
	"encoding/json"
	"testing"
	"time"
)

func TestOSDPosition(t *testing.T) {
	at := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		osd  string
		ok   bool
		want [5]float64 // lat, lon, alt, speed, heading
	}{
		{`{"latitude":22.5,"longitude":113.9,"height":120.5,"horizontal_speed":8,"attitude_head":-90}`, true, [5]float64{22.5, 113.9, 120.5, 8, -90}},
		{`{"latitude":22.5,"longitude":113.9}`, true, [5]float64{22.5, 113.9, 0, 0, 0}},
		{`{"latitude":0,"longitude":0,"height":10}`, false, [5]float64{}},
		{`{"longitude":113.9}`, false, [5]float64{}},
		{`{"latitude":95,"longitude":113.9}`, false, [5]float64{}},
		{`{"latitude":"x"}`, false, [5]float64{}},
		{`not json`, false, [5]float64{}},
		{``, false, [5]float64{}},
	} {
		p, ok := osdPosition(json.RawMessage(tc.osd), at)
		if ok != tc.ok {
			t.Fatalf("%s: ok %v", tc.osd, ok)
		}
		if ok && ([5]float64{p.Latitude, p.Longitude, p.Altitude, p.Speed, p.Heading} != tc.want || !p.Time.Equal(at)) {
			t.Fatalf("%s: %+v", tc.osd, p)
		}
	}
}
