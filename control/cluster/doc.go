// Package cluster makes several Skyrelay gateways one gateway through the
// external MQTT broker they already share with the devices (cluster.*
// keys, docs/cluster.md). There is no other store: every node keeps a
// retained directory entry (its address and the pushes it holds) that the
// broker clears with the node's will or lets expire, and every node builds
// the same picture from those entries. From it a node redirects or relays
// viewers of a path another node holds, forwards API starts to that node,
// and, when a node dies, the surviving node the rendezvous hash picks takes
// over each push the dead node held.
//
// Answering each device message exactly once is not here: the control
// plane subscribes through an MQTT 5 shared subscription for that
// (control.ClusterLink).
package cluster
