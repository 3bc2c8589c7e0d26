package control

import (
	"encoding/json"
	"sync"

	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// refusedRequests are requests Skyrelay answers with a refusal on purpose,
// and why (in the event stream and at debug level, since devices send
// them on every boot).
var refusedRequests = map[string]string{
	"storage_config_get":      "no object storage is configured: media files stay on the device",
	"flighttask_resource_get": "Skyrelay creates no flight tasks, so it has no task files to give",
}

// unservedResult for requests Skyrelay does not serve. Answering at all
// matters (a dock waits about 40 s for an unanswered request, docs/field-quirks.md), but
// answering 0 would tell it something was granted - say storage credentials
// that were never sent. 1 is the "failed" of DJI's own result vocabulary
// (property/set_reply), so the device gets a quick, honest no.
const unservedResult = 1

// bindings remembers what docks bound themselves to (airport_organization_bind).
type bindings struct {
	mu       sync.Mutex
	callsign map[string]string
}

func (b *bindings) bind(sn, callsign string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.callsign == nil {
		b.callsign = map[string]string{}
	}
	b.callsign[sn] = callsign
}

func (b *bindings) get(sn string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.callsign[sn]
	return c, ok
}

// answerRequest builds the requests_reply data of a request, and tells
// whether the method is one Skyrelay serves.
func (p inbox) answerRequest(gw string, e *cloudapi.Envelope) (data any, served bool) {
	var d map[string]json.RawMessage
	_ = json.Unmarshal(e.Data, &d)
	c := p.Config
	switch e.Method {
	case "config":
		// The dock's config reply has its fields directly in data, without
		// result/output (docs/dji-cloud-api.md, requests).
		return map[string]any{
			"app_id":          c.AppID,
			"app_key":         string(c.AppKey),
			"app_license":     string(c.AppLicense),
			"ntp_server_host": c.NTPServerHost,
			"ntp_server_port": c.NTPServerPort,
		}, true
	case "airport_bind_status":
		var req struct {
			Devices []struct {
				SN cloudapi.FlexString `json:"sn"`
			} `json:"devices"`
		}
		_ = json.Unmarshal(e.Data, &req)
		out := []map[string]any{}
		for _, dev := range req.Devices {
			callsign, bound := p.binds.get(string(dev.SN))
			if c.AutoBind {
				bound = true
			}
			if callsign == "" {
				callsign = string(dev.SN)
			}
			org := map[string]any{"sn": string(dev.SN), "is_device_bind_organization": bound,
				"organization_id": "", "organization_name": "", "device_callsign": ""}
			if bound {
				org["organization_id"], org["organization_name"], org["device_callsign"] = c.OrganizationID, c.OrganizationName, callsign
			}
			out = append(out, org)
		}
		return result(0, map[string]any{"bind_status": out}), true
	case "airport_organization_get":
		var req struct {
			Code  cloudapi.FlexString `json:"device_binding_code"`
			OrgID cloudapi.FlexString `json:"organization_id"`
		}
		_ = json.Unmarshal(e.Data, &req)
		if !p.bindingOK(string(req.Code), string(req.OrgID)) {
			return result(unservedResult, nil), true
		}
		return result(0, map[string]any{"organization_name": c.OrganizationName}), true
	case "airport_organization_bind":
		var req struct {
			BindDevices []struct {
				SN       cloudapi.FlexString `json:"sn"`
				Code     cloudapi.FlexString `json:"device_binding_code"`
				OrgID    cloudapi.FlexString `json:"organization_id"`
				Callsign cloudapi.FlexString `json:"device_callsign"`
			} `json:"bind_devices"`
		}
		_ = json.Unmarshal(e.Data, &req)
		errs := []map[string]any{}
		for _, dev := range req.BindDevices {
			code := 0
			if p.bindingOK(string(dev.Code), string(dev.OrgID)) {
				p.binds.bind(string(dev.SN), string(dev.Callsign))
			} else {
				code = unservedResult
			}
			errs = append(errs, map[string]any{"sn": string(dev.SN), "err_code": code})
		}
		return result(0, map[string]any{"err_infos": errs}), true
	case "flight_areas_get", "offline_map_get":
		// Nothing to offer; a plain 0 spares older docks a ~40 s wait
		// before every take-off (docs/field-quirks.md).
		return result(0, nil), true
	case "storage_config_get":
		// Asked on every boot (module 0: media files). Skyrelay keeps no
		// object storage to hand out, so the answer is a quick refusal:
		// the dock keeps its media on board instead of waiting, and no
		// credentials are pretended.
		return result(unservedResult, nil), true
	case "flighttask_resource_get":
		// The files of a flight task (its wayline) come from the cloud
		// that created the task; Skyrelay creates none.
		return result(unservedResult, nil), true
	}
	return result(unservedResult, nil), false
}

// bindingOK checks a binding code and organization against the config.
func (p inbox) bindingOK(code, orgID string) bool {
	if p.Config.BindingCode != "" && code != string(p.Config.BindingCode) {
		return false
	}
	return orgID == "" || orgID == p.Config.OrganizationID
}

func result(code int, output any) map[string]any {
	m := map[string]any{"result": code}
	if output != nil {
		m["output"] = output
	}
	return m
}
