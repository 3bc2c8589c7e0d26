// Package control is Skyrelay's DJI control plane: it speaks the DJI Cloud
// API over MQTT with docks and remote controllers (Pilot 2), keeps a live
// picture of every device (topology, merged state, cameras, live status),
// answers what devices ask, sends commands and matches their replies, and
// drives live sessions: it mints a push URL through the media gateway, makes
// the device push to it, and follows the push until it is playable, stopped
// or broken, saying at every step why.
//
// Plane is the component; the media gateway is reached through Media. The
// HTTP API, the event stream and the metrics hang off Plane. See README.md.
package control
