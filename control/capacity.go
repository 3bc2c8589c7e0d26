package control

import (
	"bytes"
	"encoding/json"
	"fmt"

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
}

// capacityJSON is live_capacity (docs/dji-cloud-api.md, live_capacity). The same tree serves
// docks (the dock camera and the aircraft) and remote controllers (the
// aircraft only; older builds without switchable_video_types).
type capacityJSON struct {
	AvailableVideoNumber  cloudapi.FlexInt `json:"available_video_number"`
	CoexistVideoNumberMax cloudapi.FlexInt `json:"coexist_video_number_max"`
	DeviceList            []struct {
		SN         cloudapi.FlexString `json:"sn"`
		CameraList []struct {
			CameraIndex cloudapi.FlexString `json:"camera_index"`
			VideoList   []struct {
				VideoIndex           cloudapi.FlexString `json:"video_index"`
				VideoType            cloudapi.FlexString `json:"video_type"`
				SwitchableVideoTypes []string            `json:"switchable_video_types"`
			} `json:"video_list"`
		} `json:"camera_list"`
	} `json:"device_list"`
}

// parseCapacity lists the cameras of a live_capacity value. Entries without
// an SN, camera index or video index are skipped, not fatal.
func parseCapacity(raw json.RawMessage) ([]Camera, error) {
	var c capacityJSON
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%w: live_capacity: %v", cloudapi.ErrMalformed, cloudapi.ShortError(err))
	}
	cams := []Camera{}
	for _, d := range c.DeviceList {
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
	return cams, nil
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
func parseLiveStatus(raw json.RawMessage) (list []LiveStatus, legacy bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var o liveStatusJSON
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
	var arr []liveStatusJSON
	if err := json.Unmarshal(raw, &arr); err != nil {
		return nil, false, fmt.Errorf("%w: live_status: %v", cloudapi.ErrMalformed, cloudapi.ShortError(err))
	}
	list = make([]LiveStatus, 0, len(arr))
	for _, o := range arr {
		if o.VideoID == "" {
			continue
		}
		list = append(list, o.status())
	}
	return list, false, nil
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
