package conf

// Console tunes the operator's console at / (gateway/web).
type Console struct {
	// MapTileURL is an XYZ tile URL template ({z}, {x}, {y}), e.g. an
	// operator's own tile server's https://tiles.example/{z}/{x}/{y}.png.
	// Empty: the map draws positions on a plain metric grid, with no
	// internet needed.
	MapTileURL string `yaml:"map_tile_url"`
	// MapAttribution is the text shown under tiles (their licence asks
	// for it, usually).
	MapAttribution string `yaml:"map_attribution"`
}

// Pilot is what the DJI Pilot 2 webview page at /pilot/ hands to Pilot.
type Pilot struct {
	// AppID, AppKey and License are the DJI developer app credentials for
	// platformVerifyLicense. Empty: control.app_id, control.app_key and
	// control.app_license are used.
	AppID   string `yaml:"app_id"`
	AppKey  Secret `yaml:"app_key"`
	License Secret `yaml:"license"`
	// MQTTHost is the broker URL Pilot is told to use; empty means
	// tcp://public_host:<port of mqtt.embedded.listen>.
	MQTTHost string `yaml:"mqtt_host"`
	// MQTTUsername and MQTTPassword are handed to every remote controller
	// when no mqtt.embedded.users account names its SN (an external
	// broker, say).
	MQTTUsername string `yaml:"mqtt_username"`
	MQTTPassword Secret `yaml:"mqtt_password"`
}
