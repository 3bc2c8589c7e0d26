package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// gstRTSPPackages are what a GStreamer RTSP server written in Python needs.
const gstRTSPPackages = "gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi " +
	"gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"

// peer says where a tool comes from and how to tell it is there.
type peer struct {
	pkg   string       // Debian package(s), or "npm ..." for npm packages
	paths []string     // absolute paths tried before PATH
	check func() error // instead of looking for an executable
}

// Known peers: what scripts/install-test-peers.sh installs.
var peers = map[string]peer{
	"ffmpeg":          {pkg: "ffmpeg"},
	"ffprobe":         {pkg: "ffmpeg"},
	"chromium":        {pkg: "chromium", paths: []string{"/usr/bin/chromium"}},
	"mosquitto":       {pkg: "mosquitto", paths: []string{"/usr/sbin/mosquitto"}},
	"mosquitto_pub":   {pkg: "mosquitto-clients"},
	"mosquitto_sub":   {pkg: "mosquitto-clients"},
	"mosquitto_rr":    {pkg: "mosquitto-clients"},
	"sipp":            {pkg: "sip-tester"},
	"gst-launch-1.0":  {pkg: "gstreamer1.0-tools"},
	"gst-inspect-1.0": {pkg: "gstreamer1.0-tools"},
	"python3":         {pkg: "python3", paths: []string{"/usr/bin/python3"}},
	"node":            {pkg: "nodejs"},
	"npm":             {pkg: "npm"},
	"curl":            {pkg: "curl"},
	"yamllint":        {pkg: "yamllint"},
	// The Python GStreamer RTSP server (GstRtspServer through gi), run with
	// Debian's /usr/bin/python3 (the python3 first on PATH may lack gi).
	"gst-rtsp-server": {pkg: gstRTSPPackages, check: func() error { return checkOnce("gst-rtsp-server", checkGstRTSPServer) }},
	"playwright-core": {pkg: "npm playwright-core in test/browser/", check: checkNodeModule("playwright-core")},
	// Firefox and WebKit for the pages (test/browser/pages.mjs).
	"firefox-esr":     {pkg: "firefox-esr", paths: []string{"/usr/bin/firefox-esr"}},
	"puppeteer-core":  {pkg: "npm puppeteer-core in test/browser/", check: checkNodeModule("puppeteer-core")},
	"WebKitWebDriver": {pkg: "webkit2gtk-driver", paths: []string{"/usr/bin/WebKitWebDriver"}},
	"MiniBrowser":     {pkg: "webkit2gtk-driver", check: checkMiniBrowser},
	"Xvfb":            {pkg: "xvfb", paths: []string{"/usr/bin/Xvfb"}},
}

var (
	checksMu sync.Mutex
	checks   = map[string]error{}
)

// checkOnce runs an expensive check once per test binary.
func checkOnce(name string, f func() error) error {
	checksMu.Lock()
	defer checksMu.Unlock()
	if err, ok := checks[name]; ok {
		return err
	}
	err := f()
	checks[name] = err
	return err
}

func checkGstRTSPServer() error {
	const py = "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); " +
		"from gi.repository import Gst, GstRtspServer; Gst.init(None); " +
		"missing = [e for e in ('qtdemux', 'h264parse', 'rtph264pay', 'mpegpsmux') if Gst.ElementFactory.find(e) is None]; " +
		"assert not missing, 'missing GStreamer elements: %s' % ' '.join(missing)"
	out, err := exec.Command("/usr/bin/python3", "-c", py).CombinedOutput()
	if err != nil {
		return fmt.Errorf("/usr/bin/python3 cannot use GstRtspServer: %v: %s", err, lastLine(string(out)))
	}
	return nil
}

// checkNodeModule: an npm package of test/browser/ is installed.
func checkNodeModule(name string) func() error {
	return func() error {
		if _, err := exec.LookPath("node"); err != nil {
			return fmt.Errorf("node not found on PATH (Debian package nodejs)")
		}
		p := filepath.Join(Root(), "test", "browser", "node_modules", name, "package.json")
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s not found", p)
		}
		return nil
	}
}

// checkMiniBrowser: WebKitGTK's MiniBrowser, which WebKitWebDriver starts,
// is in its multiarch folder (it comes with libwebkit2gtk-4.1-0).
func checkMiniBrowser() error {
	m, _ := filepath.Glob("/usr/lib/*/webkit2gtk-4.1/MiniBrowser")
	if len(m) == 0 {
		return fmt.Errorf("no /usr/lib/*/webkit2gtk-4.1/MiniBrowser")
	}
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// lookTool finds a tool: a known peer by its check or paths, else an
// absolute path or a name on PATH.
func lookTool(name string) (string, error) {
	if p, ok := peers[name]; ok {
		if p.check != nil {
			return name, p.check()
		}
		for _, path := range p.paths {
			if fi, err := os.Stat(path); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return path, nil
			}
		}
	}
	return exec.LookPath(name)
}

// Path returns the executable for a tool name as Require finds it (e.g.
// /usr/sbin/mosquitto, which is not on a non-root PATH), failing t if it is
// missing.
func Path(t testing.TB, name string) string {
	t.Helper()
	Require(t, name)
	p, _ := lookTool(name)
	return p
}

// Require fails the test (t.Fatalf, never a skip) unless every tool is
// installed. Tools are executables ("ffmpeg", "sipp", "mosquitto",
// "chromium", "/usr/bin/python3") or the pseudo-tools "gst-rtsp-server" and
// "playwright-core". The message names each missing tool, its Debian (or
// npm) package, and scripts/install-test-peers.sh.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	for _, name := range tools {
		_, err := lookTool(name)
		if err == nil {
			continue
		}
		if p, ok := peers[name]; ok {
			missing = append(missing, fmt.Sprintf("%q (package %s): %v", name, p.pkg, err))
		} else {
			missing = append(missing, fmt.Sprintf("%q (no Debian package known to internal/testpeer: add it there and to scripts/install-test-peers.sh): %v", name, err))
		}
	}
	if len(missing) > 0 {
		t.Fatalf("testpeer: missing test peer %s; run scripts/install-test-peers.sh (as root on Debian; make test runs it first)",
			strings.Join(missing, "; "))
	}
}
