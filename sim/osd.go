package sim

import (
	"fmt"
	"math"
	"time"
)

// Where the simulated devices are: the dock on a roof, the RC's aircraft
// circling 200 m away at 120 m.
const (
	homeLat = 22.579700
	homeLon = 113.937600
	homeAlt = 45.0 // ellipsoid height of the ground, m
)

// osd returns the periodic (pushMode 0) properties of the device and of
// its aircraft at time t. Only a plausible subset of the real property
// tables: enough for liveness, a map marker and the camera list.
func (m *model) osd(t time.Time) (device, aircraft map[string]any) {
	if m.device.domain == 3 {
		return m.dockOSD(), m.aircraftOSD(t, false)
	}
	return m.rcOSD(), m.aircraftOSD(t, true)
}

func (m *model) dockOSD() map[string]any {
	return map[string]any{
		"mode_code":               0, // idle
		"latitude":                homeLat,
		"longitude":               homeLon,
		"height":                  homeAlt,
		"cover_state":             0,
		"drone_in_dock":           1,
		"drone_charge_state":      map[string]any{"state": 0, "capacity_percent": 96},
		"network_state":           map[string]any{"type": 2, "quality": 5, "rate": 8200.0},
		"temperature":             24.5,
		"humidity":                58,
		"environment_temperature": 23.0,
		"wind_speed":              1.8,
		"rainfall":                0,
		"sub_device": map[string]any{
			"device_sn":            m.aircraft.sn,
			"device_model_key":     modelKey(m.aircraft),
			"device_online_status": 1,
			"device_paired":        1,
		},
		"media_file_detail": map[string]any{"remain_upload": 0},
	}
}

func (m *model) rcOSD() map[string]any {
	return map[string]any{
		"latitude":         homeLat,
		"longitude":        homeLon,
		"height":           homeAlt + 1.5,
		"capacity_percent": 81,
		"wireless_link": map[string]any{
			"sdr_quality": 5, "4g_quality": 4, "link_workmode": 0, "sdr_link_state": 1, "4g_link_state": 1,
		},
	}
}

// aircraftOSD is the aircraft on the ground in the dock, or, under the RC,
// flying a slow circle.
func (m *model) aircraftOSD(t time.Time, flying bool) map[string]any {
	lat, lon, height, heading, speed, mode := homeLat, homeLon, homeAlt, 0.0, 0.0, 0 // standby
	elevation := 0.0
	if flying {
		a := 2 * math.Pi * float64(t.UnixMilli()%120000) / 120000 // one lap in 2 min
		lat += 0.0018 * math.Sin(a)
		lon += 0.0018 * math.Cos(a) / math.Cos(homeLat*math.Pi/180)
		elevation = 120
		height += elevation
		heading = math.Mod(360-a*180/math.Pi, 360) - 180
		speed, mode = 10.5, 3 // manual flight
	}
	cams := []map[string]any{}
	for _, c := range m.cameras {
		if c.owner != m.aircraft.sn {
			continue
		}
		cams = append(cams, map[string]any{
			"payload_index": c.index, "camera_mode": 0, "recording_state": 0, "zoom_factor": 2.0,
			"liveview_world_region": map[string]any{"left": 0.4, "top": 0.4, "right": 0.6, "bottom": 0.6},
		})
	}
	return map[string]any{
		"mode_code":         mode,
		"latitude":          lat,
		"longitude":         lon,
		"height":            height,
		"elevation":         elevation,
		"attitude_head":     heading,
		"attitude_pitch":    0.0,
		"attitude_roll":     0.0,
		"horizontal_speed":  speed,
		"vertical_speed":    0.0,
		"gear":              1,
		"battery":           map[string]any{"capacity_percent": 88, "remain_flight_time": 1900, "return_home_power": 25},
		"position_state":    map[string]any{"is_fixed": 2, "quality": 5, "gps_number": 18, "rtk_number": 24},
		"cameras":           cams,
		"total_flight_time": 36000,
	}
}

// modelKey is "domain-type-sub_type", the key DJI uses for a product.
func modelKey(d node) string { return fmt.Sprintf("%d-%d-%d", d.domain, d.typ, d.subType) }
