// Package broker is the MQTT side of the DJI control plane: either an
// embedded broker (mochi-mqtt) that DJI docks and remote controllers connect
// to directly, or a client connection (paho, MQTT 5) to an external broker
// such as EMQX or Mosquitto. Both are hidden behind Bus, so the control plane
// only ever publishes and subscribes.
package broker
