package control

import (
	"context"
	"fmt"

	"github.com/skyrelay/skyrelay/control/broker"
	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// ClusterLink is what a cluster node (control/cluster) changes in the
// plane: set Plane.Cluster before Initialize. Without it the plane answers
// every message it receives, as a single gateway does.
type ClusterLink struct {
	// ShareGroup is the MQTT 5 shared subscription group of the nodes: the
	// messages of cloudapi.ReplyOwed are answered only when they arrive
	// through it, so exactly one node answers each.
	ShareGroup string
	// WillTopic is cleared (retained, empty) by the broker when this node
	// vanishes: its entry in the node directory.
	WillTopic string
}

// External is the client to the external broker (nil with the embedded
// one); a cluster node publishes its directory entry through it.
func (p *Plane) External() *broker.External { return p.external }

// joinCluster sets up the shared subscriptions on x; called by Initialize.
func (p *Plane) joinCluster(x *broker.External) error {
	x.WillTopic = p.Cluster.WillTopic
	p.sharedReplies = true
	return x.SubscribeShared(p.Cluster.ShareGroup, cloudapi.ReplyOwed, p.sharedReply)
}

// sharedReply answers one message of cloudapi.ReplyOwed that reached this
// node through the shared subscription. The plain copy of the same message
// updates the registry on every node (the inbox, which sends nothing in a
// cluster); this one only answers, from the message and the configuration,
// so any node gives the same answer.
func (p *Plane) sharedReply(topic string, payload []byte) (string, []byte) {
	sn, kind := cloudapi.ParseTopic(topic)
	e, err := cloudapi.Parse(payload)
	if err != nil {
		return "", nil // counted by the inbox, which gets its own copy
	}
	ok := map[string]any{"result": 0}
	switch kind {
	case cloudapi.KindStatus:
		method := e.Method
		if method == "" {
			method = "update_topo"
		}
		return cloudapi.TopicStatusReply(sn), cloudapi.Reply(e, method, ok)
	case cloudapi.KindState:
		if !e.NeedReply {
			break
		}
		// As the inbox answers: a state with any part malformed is refused.
		u := stateUpdate{sn: sn, hint: e.Gateway, tid: e.TID}
		d, err := e.Object()
		if err == nil {
			u.data = d
			err = u.parse()
		}
		if err != nil {
			return cloudapi.TopicStateReply(sn), cloudapi.Reply(e, e.Method, map[string]any{"result": stateRefused})
		}
		return cloudapi.TopicStateReply(sn), cloudapi.Reply(e, e.Method, ok)
	case cloudapi.KindEvents:
		if e.NeedReply {
			return cloudapi.TopicEventsReply(sn), cloudapi.Reply(e, e.Method, ok)
		}
	case cloudapi.KindRequests:
		data, _ := inbox{p}.answerRequest(sn, e)
		return cloudapi.TopicRequestsReply(sn), cloudapi.Reply(e, e.Method, data)
	}
	return "", nil
}

// TakeOver restarts the push of videoID toward this node after the node it
// pushed to died: live_stop_push first (the device still believes it is
// pushing, and would refuse a start with x13003; its refusal when nothing is
// live is fine), then a live_start_push minted here with protocol ("" is
// control.default_protocol). It returns once the session started or failed.
func (p *Plane) TakeOver(ctx context.Context, videoID, protocol string) error {
	gw, _, online, ok := p.reg.camera(videoID)
	if !ok || !online {
		return fmt.Errorf("video_id %q: %w", videoID, ErrDeviceOffline)
	}
	if s := p.session(videoID); s != nil && !s.isEnded() {
		return nil // already here
	}
	if _, err := p.call(ctx, gw, "live_stop_push", cloudapi.NewID(), map[string]any{"video_id": videoID}); err != nil {
		p.log.Debug("live_stop_push before a takeover", "video_id", videoID, "error", err)
	}
	if protocol == "" {
		protocol = p.Config.DefaultProtocol
	}
	s, _, aerr := p.startSession(startRequest{VideoID: videoID, Protocol: protocol}, "takeover")
	if aerr != nil {
		return aerr
	}
	if aerr := waitStart(ctx, s); aerr != nil {
		return aerr
	}
	return nil
}

// Replay records a device message a cluster member kept (its last
// update_topo or state) as if it had just arrived; a node that joins late
// learns this way what devices say only on change. Nothing is answered.
func (p *Plane) Replay(topic string, payload []byte) {
	if p.sharedReplies {
		p.onMessage(topic, payload)
	}
}
