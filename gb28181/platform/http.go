package platform

import (
	"encoding/json"
	"net/http"
)

// DevicesResponse is the body of GET /api/v1/gb28181/devices, shaped like
// the API's other lists.
type DevicesResponse struct {
	Items []DeviceInfo `json:"items"`
}

// DevicesHandler serves GET /api/v1/gb28181/devices: every device that
// registered since start with its channels, online state, remote address
// and live sessions (gb28181/README.md). Mount it behind the gateway's API
// authentication: it lists device ids and addresses.
func (p *Platform) DevicesHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = w.Write([]byte(`{"error":{"code":"method_not_allowed","message":"use GET"}}` + "\n"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(DevicesResponse{Items: p.Devices()})
	})
}
