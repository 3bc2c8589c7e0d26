package testpeer

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTB records what a helper does to a test instead of doing it.
type fakeTB struct {
	testing.TB // the real test, for anything not overridden
	mu         sync.Mutex
	fatal      []string
	skipped    bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = append(f.fatal, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Fatal(args ...any)                { f.Fatalf("%s", fmt.Sprint(args...)) }
func (f *fakeTB) FailNow()                         { f.Fatalf("FailNow") }
func (f *fakeTB) Skip(args ...any)                 { f.skip() }
func (f *fakeTB) Skipf(format string, args ...any) { f.skip() }
func (f *fakeTB) SkipNow()                         { f.skip() }
func (f *fakeTB) skip() {
	f.mu.Lock()
	f.skipped = true
	f.mu.Unlock()
	runtime.Goexit()
}

// run calls fn with a fake TB on its own goroutine (Fatalf ends it) and
// returns what the fake saw.
func runFake(t *testing.T, fn func(tb testing.TB)) (fatal []string, skipped bool) {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.fatal, f.skipped
}

func TestRequirePresent(t *testing.T) {
	// Every peer scripts/install-test-peers.sh installs.
	Require(t, "ffmpeg", "ffprobe", "chromium", "mosquitto", "mosquitto_pub", "mosquitto_sub",
		"sipp", "gst-launch-1.0", "gst-rtsp-server", "node", "playwright-core", "/usr/bin/python3",
		"firefox-esr", "puppeteer-core", "WebKitWebDriver", "MiniBrowser", "Xvfb")
	if p := Path(t, "mosquitto"); !strings.HasSuffix(p, "/mosquitto") {
		t.Fatalf("Path(mosquitto) = %q", p)
	}
}

func TestRequireMissingFails(t *testing.T) {
	fatal, skipped := runFake(t, func(tb testing.TB) {
		Require(tb, "ffmpeg", "no-such-peer-xyz")
		tb.Errorf("Require returned for a missing tool")
	})
	if skipped || len(fatal) != 1 {
		t.Fatalf("want exactly one Fatalf and no skip, got fatal=%q skipped=%v", fatal, skipped)
	}
	msg := fatal[0]
	for _, want := range []string{`"no-such-peer-xyz"`, "scripts/install-test-peers.sh"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, `"ffmpeg"`) {
		t.Errorf("message names ffmpeg, which is present:\n%s", msg)
	}

	// A known peer that is missing: hide PATH so sipp and ffprobe are not
	// found; the message must name their Debian packages.
	t.Setenv("PATH", t.TempDir())
	fatal, skipped = runFake(t, func(tb testing.TB) {
		Require(tb, "sipp", "ffprobe")
	})
	if skipped || len(fatal) != 1 {
		t.Fatalf("want one Fatalf, got fatal=%q skipped=%v", fatal, skipped)
	}
	for _, want := range []string{`"sipp" (package sip-tester)`, `"ffprobe" (package ffmpeg)`, "run scripts/install-test-peers.sh"} {
		if !strings.Contains(fatal[0], want) {
			t.Errorf("message lacks %q:\n%s", want, fatal[0])
		}
	}
}

func TestClipAndFFprobe(t *testing.T) {
	ctx := Context(t, 60*time.Second)
	path := Clip(t, ClipH264Small)
	res := FFprobe(t, ctx, path)
	v, ok := res.Video()
	if !ok || v.Codec != "h264" || v.Width != 320 || v.Height != 240 {
		t.Fatalf("video stream = %+v (ok %v); ffprobe said %s", v, ok, res.JSON)
	}
	// 5 s at 25 fps, and the read interval is the first 5 s.
	if v.Packets < 100 || v.Packets > 126 {
		t.Fatalf("packets = %d, want about 125", v.Packets)
	}
	if _, ok := res.Audio(); ok {
		t.Fatalf("h264-small has audio: %s", res.JSON)
	}

	// Extra args: only the first second, video only.
	res = FFprobe(t, ctx, path, "-select_streams", "v", "-read_intervals", "%+1")
	if v, _ := res.Video(); v.Packets < 20 || v.Packets > 40 {
		t.Fatalf("1 s read: packets = %d, want about 25 (%s)", v.Packets, res.JSON)
	}

	// The 720p clip has AAC audio.
	res = FFprobe(t, ctx, Clip(t, ClipH264720p30), "-read_intervals", "%+2")
	v, _ = res.Video()
	a, ok := res.Audio()
	if v.Codec != "h264" || v.Width != 1280 || v.Height != 720 || !ok || a.Codec != "aac" {
		t.Fatalf("720p clip: %s", res.JSON)
	}

	// A bad URL is an error, not a hang.
	if _, err := ProbeURL(ctx, filepath.Join(t.TempDir(), "none.mp4")); err == nil {
		t.Fatal("ProbeURL on a missing file: no error")
	}
}

// Clip generation is serialised across goroutines and processes: every
// caller gets a whole clip, and it is generated once.
func TestClipConcurrent(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SKYRELAY_CLIPS_DIR", dir)

	// Another process (as a parallel test package would) at the same time.
	script := exec.Command("bash", filepath.Join(Root(), "scripts", "make-clips.sh"), ClipH265Small)
	var scriptOut bytes.Buffer
	script.Stdout, script.Stderr = &scriptOut, &scriptOut
	if err := script.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	paths := make([]string, 4)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fatal, _ := runFake(t, func(tb testing.TB) { paths[i] = Clip(tb, ClipH265Small) })
			if len(fatal) > 0 {
				t.Errorf("Clip: %s", fatal[0])
			}
		}()
	}
	wg.Wait()
	if err := script.Wait(); err != nil {
		t.Fatalf("make-clips.sh: %v\n%s", err, scriptOut.String())
	}
	generated := strings.Count(scriptOut.String(), "generating")
	for _, p := range paths {
		res := FFprobe(t, Context(t, 20*time.Second), p)
		if v, _ := res.Video(); v.Codec != "hevc" || v.Packets < 100 {
			t.Fatalf("%s: %s", p, res.JSON)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "partial") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	t.Logf("the script generated the clip %d time(s); Clip callers found it made or made it under the lock", generated)

	fatal, skipped := runFake(t, func(tb testing.TB) { Clip(tb, "no-such-clip.mp4") })
	if skipped || len(fatal) != 1 || !strings.Contains(fatal[0], "unknown clip") {
		t.Fatalf("unknown clip: fatal=%q skipped=%v", fatal, skipped)
	}
}

func TestProcWaitOutputAndStop(t *testing.T) {
	ctx := Context(t, 10*time.Second)
	p := Start(t, "sh", "-c", `echo first; echo "ready on stderr" >&2; printf 'progress 1\rprogress 2\r'; echo tick; echo tick; exec sleep 60`)
	line, err := p.WaitOutput(ctx, "ready")
	if err != nil {
		t.Fatal(err)
	}
	if line != "ready on stderr" {
		t.Fatalf("line = %q", line)
	}
	// Lines printed before the call count too; '\r' ends a line.
	if _, err := p.WaitOutput(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	if l, err := p.WaitOutput(ctx, "progress 2"); err != nil || l != "progress 2" {
		t.Fatalf("WaitOutput(progress 2) = %q, %v", l, err)
	}
	if _, err := p.WaitOutputN(ctx, "tick", 2); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := p.WaitOutputN(short, "tick", 3); err == nil {
		t.Fatal("a third tick that never comes was found")
	}

	start := time.Now()
	p.Stop()
	select {
	case <-p.Exited():
	default:
		t.Fatal("Stop returned with the process running")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Stop took %v for a process that obeys SIGTERM", d)
	}
	if !gone(p.PID()) {
		t.Fatalf("pid %d still alive after Stop", p.PID())
	}
}

func TestProcExitEndsWaitOutput(t *testing.T) {
	ctx := Context(t, 10*time.Second)
	p := Start(t, "sh", "-c", "echo bye; exit 3")
	start := time.Now()
	_, err := p.WaitOutput(ctx, "never printed")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "bye") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("WaitOutput waited for its context instead of the exit")
	}
	if err := p.Wait(ctx); err == nil {
		t.Fatal("Wait: want exit status 3")
	}
}

// Stop reaches children of the process (its process group), and Kill
// works at once.
func TestProcStopKillsGroup(t *testing.T) {
	ctx := Context(t, 10*time.Second)
	p := Start(t, "sh", "-c", `sleep 60 & echo child $!; trap "" TERM; wait`)
	line, err := p.WaitOutput(ctx, "child ")
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimPrefix(line, "child "))
	p.Kill()
	if !gone(child) {
		t.Fatalf("child %d survived", child)
	}
}

func TestPortsAndWaiters(t *testing.T) {
	ctx := Context(t, 10*time.Second)
	tcp, udp := FreePort(t), FreeUDPPort(t)
	if tcp == 0 || udp == 0 {
		t.Fatal("zero port")
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", tcp))
	if err != nil {
		t.Fatalf("FreePort %d not free: %v", tcp, err)
	}
	if err := WaitTCP(ctx, l.Addr().String()); err != nil {
		t.Fatal(err)
	}
	l.Close()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := WaitTCP(short, l.Addr().String()); err == nil {
		t.Fatal("WaitTCP on a closed port succeeded")
	}
	u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", udp))
	if err != nil {
		t.Fatalf("FreeUDPPort %d not free: %v", udp, err)
	}
	u.Close()

	// Not ready for the first three requests.
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	if err := WaitHTTP(ctx, srv.URL+"/healthz", http.StatusOK); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 4 {
		t.Fatalf("requests = %d, want 4", n.Load())
	}
	short2, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	if err := WaitHTTP(short2, srv.URL+"/healthz", http.StatusTeapot); err == nil || !strings.Contains(err.Error(), "200") {
		t.Fatalf("WaitHTTP for a status that never comes: %v", err)
	}
}

func TestMosquitto(t *testing.T) {
	ctx := Context(t, 30*time.Second)
	b := Mosquitto(t)
	port := strconv.Itoa(b.Port)

	// One subscriber per protocol version; -d prints SUBACK once subscribed
	// (and again after it reconnects).
	sub5 := Start(t, "mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-V", "mqttv5", "-t", "sky/#", "-v", "-d")
	sub3 := Start(t, "mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-V", "mqttv311", "-t", "sky/#", "-v", "-d")
	for _, s := range []*Proc{sub5, sub3} {
		if _, err := s.WaitOutput(ctx, "SUBACK"); err != nil {
			t.Fatal(err)
		}
	}
	pub := func(msg string) {
		t.Helper()
		p := Start(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-t", "sky/a", "-m", msg)
		if err := p.Wait(ctx); err != nil {
			t.Fatalf("mosquitto_pub: %v\n%s", err, p.Output())
		}
	}
	pub("before-restart")
	for _, s := range []*Proc{sub5, sub3} {
		if _, err := s.WaitOutput(ctx, "sky/a before-restart"); err != nil {
			t.Fatal(err)
		}
	}

	b.Restart()
	if b.Addr != "127.0.0.1:"+port {
		t.Fatalf("restarted on %s", b.Addr)
	}
	// The clients reconnect to the same port and subscribe again.
	for _, s := range []*Proc{sub5, sub3} {
		if _, err := s.WaitOutputN(ctx, "SUBACK", 2); err != nil {
			t.Fatal(err)
		}
	}
	pub("after-restart")
	for _, s := range []*Proc{sub5, sub3} {
		if _, err := s.WaitOutput(ctx, "sky/a after-restart"); err != nil {
			t.Fatal(err)
		}
	}

	b.Stop()
	if err := exec.Command(Path(t, "mosquitto_pub"), "-h", "127.0.0.1", "-p", port, "-t", "x", "-m", "y").Run(); err == nil {
		t.Fatal("publish to a stopped broker succeeded")
	}
}

func TestBrowserCanvasPage(t *testing.T) {
	ctx := Context(t, 60*time.Second)
	shot := filepath.Join(t.TempDir(), "page.png")
	res := Browser(t, ctx, BrowserJob{
		HTML: `<!doctype html><title>t</title><canvas id=c width=64 height=48></canvas>
<script src="/helper.js"></script>
<script>
  const g = document.getElementById('c').getContext('2d');
  g.fillStyle = 'rgb(10, 200, 30)';
  g.fillRect(0, 0, 64, 48);
  console.log('drawn', helperValue);
  requestAnimationFrame(() => { window.done = true; });
</script>`,
		Files:      map[string]string{"/helper.js": "var helperValue = 42;"},
		WaitFor:    "window.done === true",
		Evaluate:   `(async () => { const d = document.getElementById('c').getContext('2d').getImageData(5, 5, 1, 1).data; return {rgb: [d[0], d[1], d[2]], ua: navigator.userAgent, helper: helperValue}; })()`,
		Screenshot: shot,
	})
	var got struct {
		RGB    []int  `json:"rgb"`
		UA     string `json:"ua"`
		Helper int    `json:"helper"`
	}
	if err := res.Decode(&got); err != nil {
		t.Fatalf("decode %s: %v", res.Result, err)
	}
	if fmt.Sprint(got.RGB) != "[10 200 30]" || got.Helper != 42 || !strings.Contains(got.UA, "HeadlessChrome") {
		t.Fatalf("result = %s", res.Result)
	}
	if !slicesContains(res.Console, "log: drawn 42") {
		t.Fatalf("console = %q", res.Console)
	}
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot: %v", err)
	}

	// A condition that never holds fails within the job's time, with the
	// step named, and RunBrowser reports it as a result, not an error.
	start := time.Now()
	r2, err := RunBrowser(ctx, BrowserJob{HTML: "<p>nothing</p>", WaitFor: "window.never", TimeoutMs: 1500})
	if err != nil {
		t.Fatal(err)
	}
	if r2.OK || !strings.HasPrefix(r2.Error, "waitFor:") {
		t.Fatalf("want a waitFor failure, got %+v", r2)
	}
	if time.Since(start) > 20*time.Second {
		t.Fatalf("a 1.5 s job took %v", time.Since(start))
	}
}

// FakeMedia gives getUserMedia a synthetic camera (what WHIP tests publish).
func TestBrowserFakeMedia(t *testing.T) {
	ctx := Context(t, 60*time.Second)
	res := Browser(t, ctx, BrowserJob{
		HTML: `<!doctype html><video id=v autoplay muted playsinline></video><script>
navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: true}).then(s => {
  window.tracks = s.getTracks().map(t => t.kind);
  document.getElementById('v').srcObject = s;
}).catch(e => { window.err = String(e); });
</script>`,
		FakeMedia: true,
		WaitFor:   "window.err || document.getElementById('v').videoWidth > 0",
		Evaluate:  "({err: window.err || '', tracks: window.tracks, width: document.getElementById('v').videoWidth})",
	})
	var got struct {
		Err    string   `json:"err"`
		Tracks []string `json:"tracks"`
		Width  int      `json:"width"`
	}
	if err := res.Decode(&got); err != nil || got.Err != "" || got.Width != 640 || len(got.Tracks) != 2 {
		t.Fatalf("result = %s (%v)", res.Result, err)
	}
}

// gone polls (up to 2 s) until pid no longer runs: absent, or a zombie
// waiting for whoever adopted it to reap it.
func gone(pid int) bool {
	deadline := time.Now().Add(2 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
