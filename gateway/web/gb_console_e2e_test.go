package web_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gb28181/gbsim"
	"github.com/skyrelay/skyrelay/gb28181/platform"
	"github.com/skyrelay/skyrelay/internal/gwproc"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// TestConsoleListsAGBDevice: a GB28181 device (gbsim: MD5 digest REGISTER,
// catalog, PS over RTP on INVITE) registers to the binary; the console
// lists it under GB28181 devices, online, with its ID, its transport and
// a link per catalog channel by name. The link of the channel it pushes
// (after an INVITE from the API) is marked live; opening it plays the
// channel in the player page, which decodes frames.
func TestConsoleListsAGBDevice(t *testing.T) {
	t.Setenv("SKYRELAY_GB28181_PASSWORD", "pw-console")
	g := gwproc.Start(t, "")
	clip, err := os.ReadFile(filepath.Join(testpeer.Root(), "sim", "clip", "clip.h264"))
	if err != nil {
		t.Fatal(err)
	}
	const dev = "34020000001320000077"
	ch, ch2 := dev[:10]+"1310000001", dev[:10]+"1310000002"
	d, err := gbsim.New(gbsim.Config{Server: "127.0.0.1:" + strconv.Itoa(g.SIP), ServerID: platform.DefaultServerID,
		DeviceID: dev, Password: "pw-console", Clip: clip,
		Channels: []gbsim.Channel{{ID: ch, Name: "Main stream"}, {ID: ch2, Name: "Sub stream"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Register(ctx); err != nil {
		t.Fatal(err)
	}
	var info platform.DeviceInfo
	deadline := time.Now().Add(15 * time.Second)
	for getJSON(g.URL("/api/v1/gb28181/devices/"+dev), &info) != nil || len(info.Channels) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the device's catalog is not in the API: %+v", info)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The device pushes: the API INVITEs channel 1.
	path := platform.ChannelPath(dev, ch)
	resp, err := http.Post(g.URL("/api/v1/gb28181/devices/"+dev+"/channels/"+ch+"/play"), "application/json", nil)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("API play: %v %v", resp, err)
	}
	resp.Body.Close()
	g.WaitReady(t, path, 15*time.Second)

	var out struct {
		Row      string
		Links    []string
		Live     string
		Status   string
		Frames   int
		StreamUp bool
		Stream   string
	}
	browser(t, job{
		URL: g.URL("/"),
		WaitFor: `document.querySelector('#gb [data-gb="` + dev + `"] a.gb-channel[data-path="` + path + `"] .pill.live') &&
			document.querySelector('#streams [data-path="` + path + `"]')`,
		Actions: []map[string]any{
			shot(shotPath(t, "console-gb.png")),
			waitFor(`(window.name = JSON.stringify({row: document.querySelector('#gb [data-gb="` + dev + `"]').innerText,
				links: [...document.querySelectorAll('#gb a.gb-channel')].map(a => a.dataset.path + ' ' + a.textContent),
				live: document.querySelector('#gb a.gb-channel .pill.live').closest('a').getAttribute('href'),
				streamUp: !!document.querySelector('#streams [data-path="` + path + `"] .pill.live'),
				stream: document.querySelector('#streams [data-path="` + path + `"]').innerText}), true)`),
			// Open the live channel's link as an operator would (the
			// test follows it in this tab; the console opens a new one).
			waitFor(`(location.href = document.querySelector('#gb a.gb-channel .pill.live').closest('a').href, true)`),
			waitFor(`location.pathname === '/` + path + `/' && window.skyrelay && skyrelay.state === 'playing' &&
				document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames > 25`),
		},
		Evaluate: `JSON.stringify(Object.assign(JSON.parse(window.name), {status: document.getElementById('status').textContent,
			frames: document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames}))`,
		TimeoutMs: 90000,
	}, &out)
	t.Logf("GB row %q, links %v, player %q with %d frames", out.Row, out.Links, out.Status, out.Frames)
	for _, s := range []string{dev, "online", "2 channels", "Main stream", "Sub stream"} {
		if !strings.Contains(out.Row, s) {
			t.Errorf("the GB row lacks %q: %q", s, out.Row)
		}
	}
	if len(out.Links) != 2 || !strings.HasPrefix(out.Links[0], path+" Main stream") || out.Live != "/"+path+"/" || !out.StreamUp {
		t.Errorf("channel links %v, live link %q, stream row live %v", out.Links, out.Live, out.StreamUp)
	}
	// The stream list says what films the path, as it does for DJI cameras.
	if !strings.Contains(out.Stream, "GB28181") || !strings.Contains(out.Stream, "Main stream · gbsim") {
		t.Errorf("the stream row does not name its GB channel: %q", out.Stream)
	}
	if out.Frames <= 25 || !strings.Contains(out.Status, "playing") {
		t.Errorf("the channel's player: %q, %d frames", out.Status, out.Frames)
	}
}
