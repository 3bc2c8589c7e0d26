package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/skyrelay/skyrelay/control/cloudapi"
	"github.com/skyrelay/skyrelay/gateway"
)

// APIError is an error the API answers with: {"error":{"code","message"}},
// plus device_code, source and module for a device's refusal.
type APIError struct {
	Status  int
	Code    string
	Message string
	// Device is set when a device refused (code device_error).
	Device *cloudapi.DeviceError
	// Err is what errors.Is matches (ErrUnknownVideo...).
	Err error
}

// Errors StartOnDemand returns (wrapped in *APIError).
var (
	// ErrUnknownVideo: the path is not a video_id any device offers.
	ErrUnknownVideo = errors.New("not a video_id in any device's live_capacity")
	// ErrDeviceOffline: the device offering the video is offline.
	ErrDeviceOffline = errors.New("the device is offline")
	// ErrNotImplemented: the protocol cannot be received yet.
	ErrNotImplemented = errors.New("protocol not implemented")
)

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

func (e *APIError) Unwrap() error { return e.Err }

// MarshalJSON writes the "error" object's content.
func (e *APIError) MarshalJSON() ([]byte, error) {
	m := struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		DeviceCode *int   `json:"device_code,omitempty"`
		Source     string `json:"source,omitempty"`
		Module     *int   `json:"module,omitempty"`
	}{Code: e.Code, Message: e.Message}
	if e.Device != nil {
		m.DeviceCode, m.Source, m.Module = &e.Device.Code, e.Device.Source, &e.Device.Module
	}
	return marshalNoEscape(m)
}

func deviceError(method string, code int) *APIError {
	d := cloudapi.DecodeError(code)
	return &APIError{Status: http.StatusBadGateway, Code: "device_error", Device: d,
		Message: method + " refused by the " + d.Source + ": " + d.Message}
}

func writeJSON(w http.ResponseWriter, status int, v any) { gateway.WriteJSON(w, status, v) }

func writeError(w http.ResponseWriter, status int, code, msg string) {
	gateway.WriteError(w, status, code, msg)
}

// writeAPIError answers with the API's error shape, plus a device's
// refusal decoded (see MarshalJSON).
func writeAPIError(w http.ResponseWriter, e *APIError) {
	gateway.WriteJSON(w, e.Status, map[string]any{"error": e})
}

// marshalNoEscape keeps & < > readable in URLs, as gateway.WriteJSON does
// around it.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
