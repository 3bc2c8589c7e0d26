package main

import (
	"net/http"
	"os"
	"strings"

	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/control/cluster"
	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/ingest/rtsppull"
)

// shareGroup is the MQTT 5 shared subscription group of every node.
const shareGroup = "skyrelay"

// joinCluster makes this gateway one node of the cluster (cluster.* keys):
// the plane answers through the shared subscription and leaves a will on
// its directory entry, stream endpoints redirect to the node holding a
// path, on-demand reads relay from it, and API starts of a push held
// elsewhere go there. It returns the node, to start after the plane.
func (a *app) joinCluster(plane *control.Plane, puller *rtsppull.Puller) *clusterModule {
	c := a.cfg
	id := nodeID(c.Cluster.NodeID)
	adv := c.Cluster.Advertise
	if adv == "" {
		adv = "http://" + hostPort(c.PublicHost, c.HTTP.Listen)
	}
	plane.Cluster = &control.ClusterLink{ShareGroup: shareGroup, WillTopic: cluster.TopicPrefix + id}
	if plane.MQTT.ClientID == "" || plane.MQTT.ClientID == "skyrelay" {
		// One MQTT client id per node: two clients with one id take the
		// session from each other in a loop.
		plane.MQTT.ClientID = "skyrelay-" + id
	}
	node := &cluster.Node{ID: id, HTTP: adv, RTSP: "rtsp://" + hostPort(c.PublicHost, c.RTSP.Listen),
		Plane: plane, APIToken: string(c.Auth.APIToken), Log: a.log.With("module", "cluster")}
	relays := &cluster.Relays{Node: node, Puller: puller, Start: plane.StartOnDemand, WaitReady: a.hub.WaitReady,
		ReadUser: c.Auth.ReadUser, ReadPassword: string(c.Auth.ReadPassword), Idle: c.Control.IdleStopAfter}
	node.OnChange(relays.Prune)
	a.hub.OnDemand = relays.OnDemand
	plain := a.hub.OnEvent
	a.hub.OnEvent = func(e gateway.Event) {
		plain(e)
		relays.StreamEvent(e.Path, string(e.Kind), viewers(a.hub, e.Path)) // the recorder is no viewer
	}
	local := func(path string) bool { return a.hub.Stream(path) != nil }
	a.http.WHEP = node.Redirect(a.http.WHEP, local)
	a.http.HLS = node.Redirect(a.http.HLS, local)
	a.http.Page = node.Redirect(a.http.Page, local)
	return &clusterModule{node: node, plane: plane, relays: relays}
}

// nodeID is cluster.node_id, or the host name.
func nodeID(configured string) string {
	if configured != "" {
		return configured
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "skyrelay"
	}
	return strings.NewReplacer("/", "-", "+", "-", "#", "-").Replace(h)
}

// clusterModule starts the node once the plane is connected to the broker
// (its client exists only after the plane's Initialize).
type clusterModule struct {
	node   *cluster.Node
	plane  *control.Plane
	relays *cluster.Relays
}

func (m *clusterModule) Initialize() error {
	m.node.Bus = m.plane.External()
	return m.node.Initialize()
}

func (m *clusterModule) Close() {
	m.node.Close()
	m.relays.Close()
}

// clusterRoutes sends API calls about a push held by another node there.
func clusterRoutes(node *cluster.Node, routes map[string]http.HandlerFunc) {
	for pattern, h := range routes {
		switch {
		case pattern == "POST /api/v1/live":
			routes[pattern] = node.ForwardStart(h)
		case strings.Contains(pattern, "/api/v1/live/{video_id...}"):
			routes[pattern] = node.ForwardVideo(h)
		}
	}
}
