package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// benchDocks is how many gateway SNs the load is spread over.
const benchDocks = 3000

var benchTotal = 4 * benchDocks

// BenchmarkClusterReplies measures messages that owe a reply (update_topo
// and a config request from each of 3 000 simulated docks, repeated) as
// handled by one node and by three nodes on one Mosquitto 2: replies per
// second at the device side, from the first publish to the last reply.
// Every node also gets the plain copy of every message (its registry stays
// complete), so what a cluster shares is the answering, not the reading.
//
// Run: go test -run '^$' -bench ClusterReplies -benchtime 1x ./control/cluster/
func BenchmarkClusterReplies(b *testing.B) {
	testpeer.Require(b, "mosquitto")
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			// Queue rather than drop while a node is behind.
			br := testpeer.Mosquitto(b, "max_queued_messages 1000000", "max_inflight_messages 1000")
			for i := range nodes {
				startBenchNode(b, br, fmt.Sprintf("bench%d", i))
			}
			var rate float64
			for range b.N {
				rate = replyRate(b, br, benchTotal)
			}
			b.ReportMetric(rate, "replies/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func startBenchNode(b *testing.B, br *testpeer.Broker, id string) {
	c := conf.Default().Control
	p := control.New(conf.MQTT{Broker: br.URL(), ClientID: "skyrelay-" + id}, c, nil, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	p.Cluster = &control.ClusterLink{ShareGroup: "skyrelay", WillTopic: TopicPrefix + id}
	if err := p.Initialize(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	deadline := time.Now().Add(10 * time.Second)
	for !p.External().Connected() {
		if time.Now().After(deadline) {
			b.Fatal("node not connected")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// replyRate publishes total reply-owing messages over benchDocks SNs from
// 8 publishing connections and waits for every reply.
func replyRate(b *testing.B, br *testpeer.Broker, total int) float64 {
	var got atomic.Int64
	all := make(chan struct{})
	sub := benchClient(b, br, "bench-replies", func(pr paho.PublishReceived) {
		if got.Add(1) == int64(total) {
			close(all)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "sys/product/+/status_reply", QoS: 0}, {Topic: "thing/product/+/requests_reply", QoS: 0}}}); err != nil {
		b.Fatal(err)
	}
	const conns, perConn = 8, 16
	pubs := make([]*paho.Client, conns)
	for i := range pubs {
		pubs[i] = benchClient(b, br, fmt.Sprintf("bench-docks-%d", i), nil)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conns * perConn {
		wg.Add(1)
		go func(c *paho.Client) {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= total {
					return
				}
				sn := fmt.Sprintf("BENCHDOCK%06d", k%benchDocks)
				topic := "sys/product/" + sn + "/status"
				payload := fmt.Sprintf(`{"tid":"t%d","bid":"b","timestamp":1,"method":"update_topo","data":{"domain":"3","type":119,"sub_type":0,"sub_devices":[]}}`, k)
				if k%2 == 1 {
					topic = "thing/product/" + sn + "/requests"
					payload = fmt.Sprintf(`{"tid":"t%d","bid":"b","timestamp":1,"method":"config","data":{"config_type":"json","config_scope":"product"}}`, k)
				}
				if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, Payload: []byte(payload), QoS: 1}); err != nil {
					b.Error(err)
					return
				}
			}
		}(pubs[i%conns])
	}
	wg.Wait()
	select {
	case <-all:
	case <-ctx.Done():
		b.Fatalf("%d of %d replies", got.Load(), total)
	}
	return float64(total) / time.Since(start).Seconds()
}

func benchClient(b *testing.B, br *testpeer.Broker, id string, on func(paho.PublishReceived)) *paho.Client {
	conn, err := net.Dial("tcp", br.Addr)
	if err != nil {
		b.Fatal(err)
	}
	cfg := paho.ClientConfig{Conn: conn, ClientID: id}
	if on != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			on(pr)
			return true, nil
		}}
	}
	c := paho.NewClient(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 60}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c
}
