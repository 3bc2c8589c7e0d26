// Package gwproc runs the skyrelay binary as its own process on free
// loopback ports, for end-to-end tests and benchmarks, and reads its CPU and
// memory from /proc and its figures from /metrics.
package gwproc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/logscan"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// Process is a skyrelay process started for one test or benchmark.
type Process struct {
	Cmd                       *exec.Cmd
	HTTP, RTMP, RTSP, WebRTC  int
	MQTT, MQTTWS, SIP, RTPUDP int
	// The TLS listeners' ports, 0 unless started with Options.CertFile.
	HTTPS, RTMPS, RTSPS, MQTTS int

	log testpeer.LogBuffer // Skyrelay's stderr, also copied to the test's

	exited  chan struct{} // closed when the process has ended
	exitErr error         // Cmd.Wait's answer, once exited is closed
}

// Wait waits for the process to end and says how it ended (Cmd.Wait's
// answer). Call it instead of Cmd.Wait, which gwproc already calls.
func (g *Process) Wait() error {
	<-g.exited
	return g.exitErr
}

// freeUDPPair returns an even UDP port free on loopback now whose odd
// neighbour is free too: RTP and RTCP (RFC 3550 §11).
func freeUDPPair(t testing.TB) int {
	for range 100 {
		a, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		a.Close()
		if p%2 == 1 || p >= 65534 {
			continue
		}
		b, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if err == nil {
			b.Close()
			return p
		}
	}
	t.Fatal("gwproc: no free even UDP port pair")
	return 0
}

// FreePort returns a TCP port free on loopback now.
func FreePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var (
	buildOnce sync.Once
	buildErr  error
	binPath   string
)

// Root is the repository root (the folder of go.mod).
func Root() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return dir
}

// BinaryEnv names a prebuilt skyrelay binary to run instead of building
// one, absolute or relative to the repository root (SKYRELAY_BIN=bin/skyrelay
// after `make build`): benchmarks then measure exactly the binary that was
// built, not whatever the working tree holds later.
const BinaryEnv = "SKYRELAY_BIN"

// Binary builds cmd/skyrelay once per test binary and returns its path,
// or returns $SKYRELAY_BIN when set.
func Binary(t testing.TB) string {
	if p := os.Getenv(BinaryEnv); p != "" {
		if !filepath.IsAbs(p) {
			// go test runs in the package's folder; bin/skyrelay means
			// the repository's.
			p = filepath.Join(Root(), p)
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s: %v", BinaryEnv, err)
		}
		return p
	}
	buildOnce.Do(func() {
		binPath = filepath.Join(os.TempDir(), fmt.Sprintf("skyrelay-test-%d", os.Getpid()))
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/skyrelay")
		cmd.Dir = Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Start runs skyrelay on free loopback ports with extra YAML appended to
// its config, and waits for /healthz. An extra with its own top-level mqtt:
// section (an external broker) replaces the embedded broker's.
func Start(t testing.TB, extra string) *Process { return StartWith(t, Options{Extra: extra}) }

// StartLevel is Start with another log_level: "debug" for a test that
// scans every line the gateway writes (internal/logscan).
func StartLevel(t testing.TB, level, extra string) *Process {
	return StartWith(t, Options{LogLevel: level, Extra: extra})
}

// Options are what StartWith may change in the gateway's config.
type Options struct {
	LogLevel string // "warn" if empty
	Extra    string // YAML appended to the config
	// CertFile and KeyFile, when set, become tls.cert_file and key_file,
	// and HTTPS, RTMPS, RTSPS and MQTT over TLS listen on free ports.
	CertFile, KeyFile string
	// GB28181 are more keys of the gb28181 section, which the config
	// already opens (YAML has no second gb28181:), written as flow mapping
	// entries: `upstreams: [{name: a, ...}]`.
	GB28181 string
}

// StartGB28181 is Start with more keys of the gb28181 section (see
// Options.GB28181).
func StartGB28181(t testing.TB, gbKeys, extra string) *Process {
	return StartWith(t, Options{GB28181: gbKeys, Extra: extra})
}

// StartWith runs skyrelay on free loopback ports as Start does. A port
// handed out free can be taken by another test before the gateway binds
// it; the gateway then exits at start-up, and StartWith tries again with
// other ports (at most three times).
func StartWith(t testing.TB, o Options) *Process {
	t.Helper()
	for attempt := 1; ; attempt++ {
		g, portTaken := startOnce(t, o)
		if !portTaken || attempt == 3 {
			if g == nil {
				t.Fatal("gateway did not become healthy")
			}
			return g
		}
		t.Logf("gwproc: a port was taken before the gateway bound it; starting again on other ports")
	}
}

// startOnce starts skyrelay once; it returns nil and whether start-up
// failed on a port another process took.
func startOnce(t testing.TB, o Options) (*Process, bool) {
	g := &Process{HTTP: FreePort(t), RTMP: FreePort(t), RTSP: FreePort(t), WebRTC: FreePort(t),
		MQTT: FreePort(t), MQTTWS: FreePort(t), SIP: FreePort(t), RTPUDP: freeUDPPair(t)}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	listen := func(port int) string { return "" }
	extra := o.Extra
	gbKeys := ""
	if o.GB28181 != "" {
		gbKeys = ", " + o.GB28181
	}
	if o.CertFile != "" {
		g.HTTPS, g.RTMPS, g.RTSPS, g.MQTTS = FreePort(t), FreePort(t), FreePort(t), FreePort(t)
		listen = func(port int) string { return fmt.Sprintf(`, tls_listen: "127.0.0.1:%d"`, port) }
		extra = fmt.Sprintf("tls: {cert_file: %q, key_file: %q}\n%s", o.CertFile, o.KeyFile, extra)
	}
	mqttSection := fmt.Sprintf(`mqtt: {embedded: {listen: "127.0.0.1:%d", ws_listen: "127.0.0.1:%d"%s}}`, g.MQTT, g.MQTTWS, listen(g.MQTTS))
	if strings.HasPrefix(extra, "mqtt:") || strings.Contains(extra, "\nmqtt:") {
		mqttSection = ""
	}
	cfg := fmt.Sprintf(`log_level: %s
public_host: 127.0.0.1
http: {listen: "127.0.0.1:%d"%s}
rtmp: {listen: "127.0.0.1:%d"%s}
rtsp: {listen: "127.0.0.1:%d", udp_rtp_listen: "127.0.0.1:%d", udp_rtcp_listen: "127.0.0.1:%d"%s}
webrtc: {listen: "127.0.0.1:%d"}
%s
gb28181: {sip_listen: "127.0.0.1:%d"%s}
%s`, o.LogLevel, g.HTTP, listen(g.HTTPS), g.RTMP, listen(g.RTMPS), g.RTSP, g.RTPUDP, g.RTPUDP+1, listen(g.RTSPS),
		g.WebRTC, mqttSection, g.SIP, gbKeys, extra)
	path := filepath.Join(t.TempDir(), "skyrelay.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.Cmd = exec.Command(Binary(t), "-config", path)
	g.Cmd.Stderr = io.MultiWriter(os.Stderr, &g.log)
	if err := g.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g.exited = make(chan struct{})
	go func() { g.exitErr = g.Cmd.Wait(); close(g.exited) }()
	t.Cleanup(func() {
		_ = g.Cmd.Process.Signal(os.Interrupt)
		<-g.exited
		// Secrets never reach the log (docs/security.md): whatever the
		// test did, no line may show a value for secret=, password=,
		// jwt=, token=... (per-push secrets are minted inside the
		// process, so the test cannot list them).
		for _, l := range logscan.FindCredentialValues("skyrelay's log", g.Log()) {
			t.Errorf("gwproc: a credential reached the log: %s", l)
		}
	})
	// Generous: on a fresh machine the first start runs beside every other
	// package's tests (go test runs two packages at once on two cores).
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		select {
		case <-g.exited:
			return nil, strings.Contains(g.Log(), "address already in use")
		default:
		}
		if resp, err := http.Get(g.URL("/healthz")); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return g, false
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, false
}

// Log is everything Skyrelay logged so far.
func (g *Process) Log() string { return g.log.String() }

// WaitLog waits until Skyrelay has logged a line containing s.
func (g *Process) WaitLog(t testing.TB, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for d := 5 * time.Millisecond; !g.log.Contains(s); d = min(2*d, 200*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the gateway logged no %q within %s", s, within)
		}
		time.Sleep(d)
	}
}

// URL is an HTTP URL on Skyrelay.
func (g *Process) URL(p string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", g.HTTP, p) }

// RTMPURL and RTSPURL are the publish/read URLs of path.
func (g *Process) RTMPURL(path string) string {
	return fmt.Sprintf("rtmp://127.0.0.1:%d/%s", g.RTMP, path)
}

// RTSPURL is the RTSP URL of path.
func (g *Process) RTSPURL(path string) string {
	return fmt.Sprintf("rtsp://127.0.0.1:%d/%s", g.RTSP, path)
}

// Usage is CPU time and memory of a process at one instant.
type Usage struct {
	At       time.Time
	CPU      time.Duration
	RSS, HWM int64 // bytes
}

// Sample reads Skyrelay's /proc/PID/stat (utime+stime) and /proc/PID/status.
func (g *Process) Sample(t testing.TB) Usage {
	pid := g.Cmd.Process.Pid
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	u := Usage{At: time.Now(), CPU: time.Duration(ut+st) * time.Second / 100} // USER_HZ is 100 on Linux
	sf, _ := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	defer sf.Close()
	sc := bufio.NewScanner(sf)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			u.RSS = kb << 10
		case "VmHWM":
			u.HWM = kb << 10
		}
	}
	return u
}

// Metric reads one sample of Skyrelay's /metrics by its full name with labels.
func (g *Process) Metric(t testing.TB, name string) (float64, bool) {
	resp, err := http.Get(g.URL("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, name)), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// BenchClip makes (once) the 1280x720 30 fps 3 Mbit/s clip of docs/testing.md
// with a keyframe every gop frames.
func BenchClip(t testing.TB, gop int) string {
	dir := filepath.Join(Root(), "testdata", "clips")
	_ = os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, fmt.Sprintf("bench-720p30-g%d.mp4", gop))
	if _, err := os.Stat(p); err == nil {
		return p
	}
	args := strings.Fields(fmt.Sprintf("-y -v error -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=1000:sample_rate=48000 -t 30 "+
		"-c:v libx264 -profile:v main -preset veryfast -pix_fmt yuv420p -b:v 3M -maxrate 3M -bufsize 3M -g %d -keyint_min %d "+
		"-sc_threshold 0 -bf 0 -c:a aac -b:a 128k -ac 2 -movflags +faststart", gop, gop))
	tmp := p + ".tmp.mp4"
	if out, err := exec.Command("ffmpeg", append(args, tmp)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg clip: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// Push starts an ffmpeg RTMP publisher looping clip to path.
func (g *Process) Push(t testing.TB, clip, path string) *exec.Cmd {
	cmd := exec.Command("ffmpeg", "-v", "error", "-re", "-stream_loop", "-1", "-i", clip, "-c", "copy", "-f", "flv",
		g.RTMPURL(path))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// Ready asks the streams API whether path is playable now.
func (g *Process) Ready(path string) (bool, error) {
	resp, err := http.Get(g.URL("/api/v1/streams/" + path))
	if err != nil {
		return false, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return strings.Contains(string(b), `"ready":true`), err
}

// WaitReady polls the streams API until path is playable.
func (g *Process) WaitReady(t testing.TB, path string, within time.Duration) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if ok, _ := g.Ready(path); ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s not ready within %s", path, within)
}

// Report prints one figure as a line make bench shows and
// docs/benchmarks.md quotes.
func Report(b *testing.B, name string, value float64, unit string) {
	b.ReportMetric(value, unit)
	fmt.Printf("FIGURE %-60s %12.4f %s\n", name, value, unit)
}
