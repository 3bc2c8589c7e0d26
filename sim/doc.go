// Package sim simulates DJI Cloud API devices — a DJI Dock 3 with its
// Matrice 4TD and a DJI RC Plus 2 running Pilot 2 with a Matrice 4T — against
// any MQTT 3.1.1 or 5 broker, so that Skyrelay can be tried and tested
// without a drone.
//
// A simulated device speaks the protocol of docs/dji-cloud-api.md: it
// announces its topology with update_topo until the cloud answers, publishes
// osd every two seconds and state (live_capacity, live_status) on change,
// answers services (live_start_push, live_stop_push, live_set_quality,
// live_lens_change and anything else with result 0) and carries a real
// H.264 clip in real time: pushed over RTMP for url_type 1, served by an
// RTSP server of its own for url_type 2 (the reply names its URL, in
// data.output or, with Options.RTSPReplyInfo, the legacy data.info), and
// published over WHIP for url_type 4. Failures that real devices
// show in the field can be injected: error codes for the next N starts, slow
// or missing replies, dropped MQTT connections and media gaps.
//
// Run a dock in-process with
//
//	err := sim.Dock{Options: sim.Options{Broker: "tcp://127.0.0.1:1883"}}.Run(ctx)
//
// and a remote controller with sim.RC the same way.
package sim
