package platform

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gb28181/gbsim"
	"github.com/skyrelay/skyrelay/ingest/rtsp"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

func TestChannelPath(t *testing.T) {
	for _, tc := range []struct {
		path, dev, ch string
		ok            bool
	}{
		{"gb28181/34020000001320000001/34020000001310000001", "34020000001320000001", "34020000001310000001", true},
		{"gb28181/cam1/cam1", "cam1", "cam1", true},
		{"gb28181/34020000001320000001", "", "", false},
		{"gb28181/a/b/c", "", "", false},
		{"live/a/b", "", "", false},
		{"gb28181//x", "", "", false},
	} {
		dev, ch, ok := ParseChannelPath(tc.path)
		if dev != tc.dev || ch != tc.ch || ok != tc.ok {
			t.Errorf("%q: %q %q %v", tc.path, dev, ch, ok)
		}
		if ok && ChannelPath(dev, ch) != tc.path {
			t.Errorf("%q: ChannelPath gives %q", tc.path, ChannelPath(dev, ch))
		}
	}
}

// thirdParty registers a gbsim device (three channels, the test clip) with
// p, and waits for its catalog.
func thirdParty(t *testing.T, ctx context.Context, p *Platform, id string) *gbsim.Device {
	t.Helper()
	d := newDeviceClip(t, p, id)
	if err := d.Register(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the catalog", func() bool { in, _ := p.Device(id); return len(in.Channels) == 3 })
	return d
}

func newDeviceClip(t *testing.T, p *Platform, id string) *gbsim.Device {
	t.Helper()
	d, err := gbsim.New(gbsim.Config{Server: "127.0.0.1:" + strconv.Itoa(p.SIPPort()), ServerID: p.ServerID,
		DeviceID: id, Password: "pw-3rd", Log: testLog(t), Clip: clip(t),
		Channels: []gbsim.Channel{{ID: id[:10] + "1310000001", Name: "主码流"}, {ID: id[:10] + "1310000002", Name: "副码流"}, {ID: id[:10] + "1310000003", Name: "热成像"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// TestOnDemandPlay: viewers on gb28181/{device}/{channel} of a registered
// third-party device INVITE it on demand: two ffprobe runs over RTSP at
// once make one INVITE; once the last viewer left, IdleStopAfter later the
// platform sends BYE; a channel the device does not list, or a device that
// is not registered, is 404 to the viewer, and nothing is sent.
func TestOnDemandPlay(t *testing.T) {
	testpeer.Require(t, "ffprobe")
	ctx := testpeer.Context(t, 40*time.Second)
	p, hub := newPlatform(t, func(p *Platform) { p.Password = "pw-3rd"; p.IdleStopAfter = 500 * time.Millisecond })
	hub.OnDemand = p.StartOnDemand
	rs := &rtsp.Server{Address: "127.0.0.1:0", Hub: hub, Log: testLog(t)}
	if err := rs.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	const id = "34020000001320000051"
	d := thirdParty(t, ctx, p, id)
	path := ChannelPath(id, id[:10]+"1310000002")

	var wg sync.WaitGroup
	res := make([]testpeer.ProbeResult, 2)
	errs := make([]error, 2)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = testpeer.ProbeURL(ctx, "rtsp://"+rs.Addr().String()+"/"+path, "-rtsp_transport", "tcp", "-read_intervals", "%+2")
		}()
	}
	wg.Wait()
	for i := range res {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if v, ok := res[i].Video(); !ok || v.Codec != "h264" || v.Packets < 25 {
			t.Fatalf("ffprobe %d: %+v", i, v)
		}
	}
	if st := d.Stats(); st.Invites != 1 {
		t.Fatalf("%d INVITEs for two viewers, want 1", st.Invites)
	}
	waitFor(ctx, t, "the idle stop", func() bool { return d.Stats().Byes == 1 && len(p.Sessions()) == 0 })

	for _, bad := range []string{ChannelPath(id, id[:10]+"1310000009"), ChannelPath("34020000001320000059", "34020000001320000059")} {
		if _, err := hub.Read(ctx, bad); !errors.Is(err, gateway.ErrNotFound) {
			t.Fatalf("%s: %v, want not found", bad, err)
		}
	}
	if st := d.Stats(); st.Invites != 1 {
		t.Fatalf("%d INVITEs after reads of unknown channels", st.Invites)
	}
}

// TestPlayAPI: POST .../channels/{channel}/play INVITEs the channel (201
// with its path), the session is listed with the device and stays up
// without viewers; DELETE sends BYE (204). The list answers 405 to POST and
// DELETE, unknown devices 404.
func TestPlayAPI(t *testing.T) {
	ctx := testpeer.Context(t, 30*time.Second)
	p, hub := newPlatform(t, func(p *Platform) { p.Password = "pw-3rd"; p.IdleStopAfter = 200 * time.Millisecond })
	mux := http.NewServeMux()
	mux.Handle(APIPrefix, p.DevicesHandler())
	mux.Handle(APIPrefix+"/", p.DevicesHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	const id = "34020000001320000052"
	d := thirdParty(t, ctx, p, id)
	ch := id[:10] + "1310000001"

	do := func(method, path string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, b
	}
	for _, m := range []string{"POST", "DELETE", "PUT"} {
		if res, body := do(m, APIPrefix); res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" || !strings.Contains(string(body), "method_not_allowed") {
			t.Fatalf("%s %s: %d %s %s", m, APIPrefix, res.StatusCode, res.Header.Get("Allow"), body)
		}
	}
	if res, _ := do("POST", APIPrefix+"/34020000001320000059/channels/34020000001310000001/play"); res.StatusCode != 404 {
		t.Fatalf("play of an unknown device: %d", res.StatusCode)
	}
	if res, _ := do("GET", APIPrefix+"/"+id+"/channels/"+ch+"/play"); res.StatusCode != 405 {
		t.Fatalf("GET play: %d", res.StatusCode)
	}

	res, body := do("POST", APIPrefix+"/"+id+"/channels/"+ch+"/play")
	var pr PlayResponse
	if err := json.Unmarshal(body, &pr); err != nil || res.StatusCode != 201 || pr.Path != ChannelPath(id, ch) || pr.Session.ChannelID != ch {
		t.Fatalf("play: %d %s", res.StatusCode, body)
	}
	if err := hub.WaitReady(ctx, pr.Path); err != nil {
		t.Fatal(err)
	}
	res, body = do("GET", APIPrefix+"/"+id)
	var in DeviceInfo
	if err := json.Unmarshal(body, &in); err != nil || res.StatusCode != 200 || len(in.Sessions) != 1 || in.Sessions[0].Path != pr.Path {
		t.Fatalf("device: %d %s", res.StatusCode, body)
	}
	// Started by the API: no idle stop. Observed for ten idle periods.
	time.Sleep(10 * p.IdleStopAfter)
	if len(p.Sessions()) != 1 || d.Stats().Byes != 0 {
		t.Fatalf("the API's session ended without viewers: %v", p.Sessions())
	}
	if res, body := do("DELETE", APIPrefix+"/"+id+"/channels/"+ch+"/play"); res.StatusCode != 204 {
		t.Fatalf("stop: %d %s", res.StatusCode, body)
	}
	waitFor(ctx, t, "the BYE", func() bool { return d.Stats().Byes == 1 })
	if res, _ := do("DELETE", APIPrefix+"/"+id+"/channels/"+ch+"/play"); res.StatusCode != 404 {
		t.Fatalf("second stop: %d", res.StatusCode)
	}
}

// FuzzParseChannelPath: any path either parses into ids that make the same
// path again and are safe in SIP headers, or is refused.
func FuzzParseChannelPath(f *testing.F) {
	f.Add("gb28181/34020000001320000001/34020000001310000001")
	f.Add("gb28181/a/b/c")
	f.Add("gb28181//")
	f.Fuzz(func(t *testing.T, path string) {
		dev, ch, ok := ParseChannelPath(path)
		if !ok {
			return
		}
		if ChannelPath(dev, ch) != path || !validID(dev) || !validID(ch) {
			t.Fatalf("%q parsed as %q %q", path, dev, ch)
		}
	})
}
