// Package tlscert holds the one certificate and key that every TLS listener
// of Skyrelay serves (RTMPS, RTSPS, HTTPS, MQTT over TLS), reloads it when
// its files change so that an operator's rotation needs no restart, and
// wraps plain listeners into TLS listeners that refuse and count peers
// speaking plain text to a TLS port.
//
// It is product code shared by ingest/, gateway/ and the MQTT broker, so it
// lives under gateway/ (which the ingests already import) rather than in
// internal/, which holds test helpers only.
package tlscert
