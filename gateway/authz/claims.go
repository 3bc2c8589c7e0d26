package authz

import (
	"encoding/json"
	"strings"
)

// Permission is one grant in a token: an action on the paths that match
// Path (a glob, "" for any) or on the cameras of device Device (a serial
// number: the paths that start with "SN/", as a DJI camera's video_id
// does). A permission naming neither grants every path.
type Permission struct {
	Action string `json:"action"`
	Path   string `json:"path,omitempty"`
	Device string `json:"device,omitempty"`
}

// Claims are what a verified token says.
type Claims struct {
	Subject     string
	Expires     int64 // Unix seconds
	Permissions []Permission
}

// Allows tells whether one of the permissions grants action on path.
func (c *Claims) Allows(action, path string) bool {
	for _, p := range c.Permissions {
		if p.Action != action && p.Action != "*" {
			continue
		}
		if p.Device != "" && !strings.HasPrefix(path, p.Device+"/") && path != p.Device {
			continue
		}
		if p.Path != "" && !MatchPath(p.Path, path) {
			continue
		}
		return true
	}
	return false
}

// rawClaims is the JSON payload of a token. Numeric dates may be integers
// or, as some issuers write them, fractions.
type rawClaims struct {
	Exp *float64 `json:"exp"`
	Nbf *float64 `json:"nbf"`
	Iat *float64 `json:"iat"`
	Sub string   `json:"sub"`
	Iss string   `json:"iss"`
	Aud audience `json:"aud"`
}

// audience is "aud": a string or a list of strings (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

func (a audience) has(s string) bool {
	for _, v := range a {
		if v == s {
			return true
		}
	}
	return false
}
