package control

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// Camera is one pushable video of a device, from live_capacity.
type Camera struct {
	VideoID     string `json:"video_id"`
	DeviceSN    string `json:"device_sn"`
	CameraIndex string `json:"camera_index"`
	VideoIndex  string `json:"video_index"`
	// VideoType is the lens in use (docks report the current one here).
	VideoType string `json:"video_type"`
	// SwitchableVideoTypes are the lenses live_lens_change may choose
	// (empty on older Pilot builds, which list one video per lens instead).
	SwitchableVideoTypes []string `json:"switchable_video_types"`
	// CurrentLens is the lens the camera pushes now: the one its latest
	// live_status names, else VideoType.
	CurrentLens string `json:"current_lens,omitempty"`
}

// liveLimits are the pushes a gateway can run at once, from live_capacity
// (docs/dji-cloud-api.md, live_capacity); 0 means none stated.
type liveLimits struct {
	// gateway is the smaller of the gateway's available_video_number and
	// coexist_video_number_max.
	gateway int
	// device is each video source's available_video_number. Its
	// coexist_video_number_max is not a limit: a Dock 3 states 1 for its
	// aircraft while pushing both aircraft cameras at once.
	device map[string]int
}

// capacityJSON is live_capacity (docs/dji-cloud-api.md, live_capacity). The same tree serves
// docks (the dock camera and the aircraft) and remote controllers (the
// aircraft only; older builds without switchable_video_types).
type capacityJSON struct {
	AvailableVideoNumber  cloudapi.FlexInt `json:"available_video_number"`
	CoexistVideoNumberMax cloudapi.FlexInt `json:"coexist_video_number_max"`
	DeviceList            []struct {
		SN                    cloudapi.FlexString `json:"sn"`
		AvailableVideoNumber  cloudapi.FlexInt    `json:"available_video_number"`
		CoexistVideoNumberMax cloudapi.FlexInt    `json:"coexist_video_number_max"`
		CameraList            []struct {
			CameraIndex cloudapi.FlexString `json:"camera_index"`
			VideoList   []struct {
				VideoIndex           cloudapi.FlexString `json:"video_index"`
				VideoType            cloudapi.FlexString `json:"video_type"`
				SwitchableVideoTypes []string            `json:"switchable_video_types"`
			} `json:"video_list"`
		} `json:"camera_list"`
	} `json:"device_list"`
}

// parseCapacity lists the cameras and limits of a live_capacity value. A
// value that is not an object, or whose lists are not lists, is malformed;
// entries without an SN, camera index or video index are skipped.
func parseCapacity(raw json.RawMessage) ([]Camera, liveLimits, error) {
	var c capacityJSON
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return nil, liveLimits{}, fmt.Errorf("%w: live_capacity is %s, not an object", cloudapi.ErrMalformed, jsonKind(raw))
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, liveLimits{}, fmt.Errorf("%w: live_capacity: %v", cloudapi.ErrMalformed, cloudapi.ShortError(err))
	}
	lim := liveLimits{gateway: smallestPositive(int(c.AvailableVideoNumber), int(c.CoexistVideoNumberMax)), device: map[string]int{}}
	cams := []Camera{}
	for _, d := range c.DeviceList {
		if n := int(d.AvailableVideoNumber); n > 0 && d.SN != "" {
			lim.device[string(d.SN)] = n
		}
		for _, cam := range d.CameraList {
			for _, v := range cam.VideoList {
				if d.SN == "" || cam.CameraIndex == "" || v.VideoIndex == "" {
					continue
				}
				sw := v.SwitchableVideoTypes
				if sw == nil {
					sw = []string{}
				}
				cams = append(cams, Camera{
					VideoID:              string(d.SN) + "/" + string(cam.CameraIndex) + "/" + string(v.VideoIndex),
					DeviceSN:             string(d.SN),
					CameraIndex:          string(cam.CameraIndex),
					VideoIndex:           string(v.VideoIndex),
					VideoType:            string(v.VideoType),
					SwitchableVideoTypes: sw,
				})
			}
		}
	}
	return cams, lim, nil
}

func smallestPositive(a, b int) int {
	switch {
	case a <= 0:
		return max(b, 0)
	case b <= 0 || a < b:
		return a
	}
	return b
}

// jsonKind names the kind of a JSON value, for malformed-message logs.
func jsonKind(v json.RawMessage) string {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return "empty"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// LiveStatus is what a device says about one of its pushes (docs/dji-cloud-api.md, live_status).
type LiveStatus struct {
	VideoID      string `json:"video_id"`
	VideoType    string `json:"video_type,omitempty"`
	VideoQuality int    `json:"video_quality"`
	// Status is 1 while the device pushes, 0 otherwise.
	Status      int                   `json:"status"`
	ErrorStatus int                   `json:"error_status"`
	Error       *cloudapi.DeviceError `json:"error,omitempty"`
	// ReportedVideoID is the video_id the device reported when it differs
	// from the camera's VideoID: a dock names the current lens there
	// (".../99-0-0/wide-0" for the camera offering "normal-0").
	ReportedVideoID string `json:"reported_video_id,omitempty"`
	// Lens is the lens in the push: video_type, else the lens part of the
	// reported video_id.
	Lens string `json:"lens,omitempty"`
	// LiveTime and LiveTrendline come only from the legacy osd shape.
	LiveTime      *int `json:"live_time,omitempty"`
	LiveTrendline *int `json:"live_trendline,omitempty"`
}

type liveStatusJSON struct {
	VideoID       cloudapi.FlexString `json:"video_id"`
	VideoType     cloudapi.FlexString `json:"video_type"`
	VideoQuality  cloudapi.FlexInt    `json:"video_quality"`
	Status        *cloudapi.FlexInt   `json:"status"`
	ErrorStatus   cloudapi.FlexInt    `json:"error_status"`
	LiveTime      *cloudapi.FlexInt   `json:"live_time"`
	LiveTrendline *cloudapi.FlexInt   `json:"live_trendline"`
}

// parseLiveStatus reads both shapes: the current array (state topic) and
// the legacy single object of v1.1 (osd topic), where a non-empty video_id
// means that video is being pushed and there is no status field. legacy
// tells which one it was: the legacy object speaks about one video only.
// An entry whose video_id is not a string, or whose status, error_status
// or video_quality is not a number, makes the whole value malformed: it
// must change nothing rather than invent a push or end real ones.
func parseLiveStatus(raw json.RawMessage) (list []LiveStatus, legacy bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var o liveStatusJSON
		if err := checkLiveEntry(raw); err != nil {
			return nil, true, err
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, true, fmt.Errorf("%w: live_status: %v", cloudapi.ErrMalformed, cloudapi.ShortError(err))
		}
		if o.VideoID == "" {
			return []LiveStatus{}, true, nil
		}
		ls := o.status()
		if o.Status == nil {
			ls.Status = 1
		}
		return []LiveStatus{ls}, true, nil
	}
	var entries []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &entries) != nil {
		return nil, false, fmt.Errorf("%w: live_status is %s, not an array", cloudapi.ErrMalformed, jsonKind(raw))
	}
	list = make([]LiveStatus, 0, len(entries))
	for _, e := range entries {
		if err := checkLiveEntry(e); err != nil {
			return nil, false, err
		}
		var o liveStatusJSON
		if err := json.Unmarshal(e, &o); err != nil {
			return nil, false, fmt.Errorf("%w: live_status: %v", cloudapi.ErrMalformed, cloudapi.ShortError(err))
		}
		if o.VideoID == "" {
			continue
		}
		list = append(list, o.status())
	}
	return list, false, nil
}

// checkLiveEntry checks the types of one live_status entry.
func checkLiveEntry(raw json.RawMessage) error {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return fmt.Errorf("%w: a live_status entry is %s, not an object", cloudapi.ErrMalformed, jsonKind(raw))
	}
	if v, ok := m["video_id"]; ok && !cloudapi.IsNull(v) && bytes.TrimSpace(v)[0] != '"' {
		return fmt.Errorf("%w: live_status video_id is %s, not a string", cloudapi.ErrMalformed, jsonKind(v))
	}
	for _, k := range []string{"status", "error_status", "video_quality"} {
		if v, ok := m[k]; ok && !cloudapi.IsNull(v) {
			if _, isInt := cloudapi.Int(v); !isInt {
				return fmt.Errorf("%w: live_status %s is %s, not a number", cloudapi.ErrMalformed, k, jsonKind(v))
			}
		}
	}
	return nil
}

// matchCamera matches a live_status entry to the camera it is about: by
// video_id when the device offers that one, else by device SN and camera
// index, since a dock reports ".../99-0-0/wide-0" (the current lens) for
// the camera its live_capacity offers as ".../99-0-0/normal-0". Callers
// hold the registry lock.
func (g *device) matchCamera(ls LiveStatus) LiveStatus {
	sn, camIdx, vidIdx := splitVideoID(ls.VideoID)
	ls.Lens = ls.VideoType
	if ls.Lens == "" {
		ls.Lens = lensOf(vidIdx)
	}
	var pick *Camera
	for i := range g.cameras {
		c := &g.cameras[i]
		if c.VideoID == ls.VideoID {
			return ls
		}
		if c.DeviceSN == sn && c.CameraIndex == camIdx && (pick == nil || lensOf(c.VideoIndex) == lensOf(vidIdx)) {
			pick = c
		}
	}
	if pick != nil {
		ls.ReportedVideoID, ls.VideoID = ls.VideoID, pick.VideoID
	}
	return ls
}

// splitVideoID cuts {sn}/{camera_index}/{video_index}.
func splitVideoID(id string) (sn, camera, video string) {
	sn, rest, _ := strings.Cut(id, "/")
	camera, video, _ = strings.Cut(rest, "/")
	return sn, camera, video
}

// lensOf is the lens part of a video_index: "wide" of "wide-0".
func lensOf(videoIndex string) string {
	lens, _, _ := strings.Cut(videoIndex, "-")
	return lens
}

func (o liveStatusJSON) status() LiveStatus {
	ls := LiveStatus{
		VideoID:      string(o.VideoID),
		VideoType:    string(o.VideoType),
		VideoQuality: int(o.VideoQuality),
		ErrorStatus:  int(o.ErrorStatus),
	}
	if o.Status != nil {
		ls.Status = int(*o.Status)
	}
	if ls.ErrorStatus != 0 {
		ls.Error = cloudapi.DecodeError(ls.ErrorStatus)
	}
	if o.LiveTime != nil {
		v := int(*o.LiveTime)
		ls.LiveTime = &v
	}
	if o.LiveTrendline != nil {
		v := int(*o.LiveTrendline)
		ls.LiveTrendline = &v
	}
	return ls
}
