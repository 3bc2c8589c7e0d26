package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/sim"
)

// gbStream has a simulated Dock 3 (docksim's, on the gateway's embedded
// broker) push one camera over GB28181 through the DJI flow: POST
// /api/v1/live with protocol gb28181, the dock registers with the minted
// password, the platform INVITEs it and MPEG-PS over RTP arrives. The soak
// gets one stream that is not RTMP or RTSP and, above all, a GB28181 media
// port that is open, for the malformed input. The dock and its push stay
// for the whole run; it returns the path and the media port with its
// transport (udp or tcp).
func gbStream(t *testing.T, g *gwproc.Process, ctx context.Context) (path string, port int, transport string) {
	d := sim.Dock{Options: sim.Options{Broker: fmt.Sprintf("tcp://127.0.0.1:%d", g.MQTT), EventInterval: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { <-done }) // ctx ends before the cleanups run
	path = d.VideoIDs()[2]       // the aircraft's camera, as cmd/skyrelay's GB28181 test
	cl := &http.Client{Timeout: time.Minute}
	var dev struct {
		Online bool `json:"online"`
	}
	for deadline := time.Now().Add(30 * time.Second); !dev.Online; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the simulated dock did not come online on the embedded broker")
		}
		_ = getJSON(cl, g.URL("/api/v1/devices/"+sim.DefaultDockSN), &dev)
	}
	resp, err := cl.Post(g.URL("/api/v1/live"), "application/json",
		strings.NewReader(fmt.Sprintf(`{"video_id":%q,"protocol":"gb28181"}`, path)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/live gb28181: %s %s", resp.Status, b)
	}
	var devs struct {
		Items []struct {
			Sessions []struct {
				Path      string `json:"path"`
				Transport string `json:"transport"`
				LocalPort int    `json:"local_port"`
			} `json:"sessions"`
		} `json:"items"`
	}
	if err := getJSON(cl, g.URL("/api/v1/gb28181/devices"), &devs); err != nil {
		t.Fatal(err)
	}
	for _, it := range devs.Items {
		for _, s := range it.Sessions {
			if s.Path == path {
				return path, s.LocalPort, strings.ToLower(s.Transport)
			}
		}
	}
	t.Fatalf("no GB28181 session for %s in /api/v1/gb28181/devices", path)
	return "", 0, ""
}

func getJSON(cl *http.Client, u string, v any) error {
	resp, err := cl.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
