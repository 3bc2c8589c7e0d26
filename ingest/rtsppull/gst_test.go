package rtsppull_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// gstServer is GStreamer's gst-rtsp-server playing a clip at /live/1 on
// 127.0.0.1:port with Basic credentials: a real RTSP server nobody here
// wrote, standing in for a DJI remote controller in url_type 2.
const gstServer = `
import sys, gi
gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gst, GstRtspServer, GLib
Gst.init(None)
port, user, pw, clip = sys.argv[1:5]
server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service(port)
f = GstRtspServer.RTSPMediaFactory()
f.set_launch('( filesrc location=%s ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )' % clip)
f.set_shared(True)
auth = GstRtspServer.RTSPAuth()
token = GstRtspServer.RTSPToken()
token.set_string('media.factory.role', user)
auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, pw), token)
server.set_auth(auth)
perms = GstRtspServer.RTSPPermissions()
perms.add_role_from_structure(Gst.Structure.from_string(user + ', media.factory.access=(boolean)true, media.factory.construct=(boolean)true')[0])
f.set_permissions(perms)
server.get_mount_points().add_factory('/live/1', f)
if server.attach(None) == 0:
    print('attach failed', flush=True)
    sys.exit(1)
print('ready', flush=True)
GLib.MainLoop().run()
`

var (
	gstClipOnce sync.Once
	gstClipPath string
	gstClipErr  error
)

// gstClip is a 60 s 320x240 25 fps H.264 clip without B-frames and with a
// keyframe a second, made once per machine.
func gstClip(t testing.TB) string {
	t.Helper()
	testpeer.Require(t, "ffmpeg")
	gstClipOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "skyrelay-rtsppull")
		_ = os.MkdirAll(dir, 0o755)
		gstClipPath = filepath.Join(dir, "h264-320x240-60s.mp4")
		if _, err := os.Stat(gstClipPath); err == nil {
			return
		}
		tmp := gstClipPath + ".tmp.mp4"
		out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "60",
			"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-bf", "0", "-g", "25", "-keyint_min", "25",
			"-sc_threshold", "0", "-b:v", "300k", tmp).CombinedOutput()
		if err != nil {
			gstClipErr = fmt.Errorf("ffmpeg: %v: %s", err, out)
			return
		}
		gstClipErr = os.Rename(tmp, gstClipPath)
	})
	if gstClipErr != nil {
		t.Fatal(gstClipErr)
	}
	return gstClipPath
}

// startGst runs the GStreamer RTSP server on port and waits until it
// serves.
func startGst(t testing.TB, port int, user, pass string) *testpeer.Proc {
	t.Helper()
	testpeer.Require(t, "gst-rtsp-server")
	script := filepath.Join(t.TempDir(), "server.py")
	if err := os.WriteFile(script, []byte(gstServer), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testpeer.Start(t, testpeer.Path(t, "python3"), script, fmt.Sprint(port), user, pass, gstClip(t))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := p.WaitOutput(ctx, "ready"); err != nil {
		t.Fatalf("gst-rtsp-server did not start: %v\n%s", err, p.Output())
	}
	return p
}
