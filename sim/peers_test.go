package sim_test

// Helpers that run the real third-party peers the tests talk to: Mosquitto
// (broker, mosquitto_sub, mosquitto_pub) and ffmpeg/ffprobe as RTMP server.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/internal/testpeer"
	"github.com/skyrelay/skyrelay/sim"
)

const waitLimit = 15 * time.Second

// tool finds a program, also in /usr/sbin where Debian puts mosquitto, and
// fails the test naming the Debian package when it is missing.
func tool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	t.Fatalf("%s is not installed: apt-get install %s (make peers does it)", name, debianPackage)
	return ""
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// process is a peer started for one test and killed by its pid at the end.
type process struct {
	cmd    *exec.Cmd
	out    *testpeer.LogBuffer
	exited chan struct{}
}

func start(t *testing.T, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(name, args...), out: &testpeer.LogBuffer{}, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), p.out.String())
		}
	})
	return p
}

// wait waits for the process to exit by itself.
func (p *process) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(waitLimit):
		t.Fatalf("%s did not finish; output:\n%s", p.cmd.Path, p.out.String())
	}
}

// waitListening polls /proc/net/tcp until something listens on port, or
// has already accepted a connection there. (Connecting to check would use
// up a one-connection server; and such a server, ffprobe -listen 1, closes
// its listening socket on accept, so a device that is retrying can connect
// between two polls and the LISTEN line is never seen.)
func waitListening(t *testing.T, port int) {
	const tcpEstablished, tcpListen = "01", "0A" // socket states in /proc/net/tcp
	t.Helper()
	want := fmt.Sprintf(":%04X ", port)
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
			b, _ := os.ReadFile(f)
			for _, line := range strings.Split(string(b), "\n") {
				fields := strings.Fields(line)
				if len(fields) > 3 && strings.HasSuffix(fields[1]+" ", want) &&
					(fields[3] == tcpListen || fields[3] == tcpEstablished) {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond) // readiness poll, bounded by the deadline
	}
	t.Fatalf("nothing listens on port %d", port)
}

// startMosquitto runs a broker on a free loopback port and returns its
// tcp:// URL and port.
func startMosquitto(t *testing.T) (string, int) {
	t.Helper()
	return startMosquittoWith(t, "allow_anonymous true\n")
}

// startMosquittoWith is startMosquitto with more configuration lines.
func startMosquittoWith(t *testing.T, extra string) (string, int) {
	t.Helper()
	bin := tool(t, "mosquitto", "mosquitto")
	tool(t, "mosquitto_sub", "mosquitto-clients")
	port := freePort(t)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	err := os.WriteFile(conf, fmt.Appendf(nil, "listener %d 127.0.0.1\npersistence false\n%s", port, extra), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	start(t, bin, "-c", conf)
	waitListening(t, port)
	return fmt.Sprintf("tcp://127.0.0.1:%d", port), port
}

// message is one line printed by mosquitto_sub -v.
type message struct {
	Topic   string
	Payload map[string]any
	Raw     string
}

func (m message) str(key string) string { s, _ := m.Payload[key].(string); return s }
func (m message) data() map[string]any  { d, _ := m.Payload["data"].(map[string]any); return d }

// subscriber is a running mosquitto_sub; it keeps every message so that a
// test can look for one whatever came before or after it.
type subscriber struct {
	version string
	mu      sync.Mutex
	msgs    []message
	changed chan struct{} // closed and replaced on every new message
}

// subscribe runs mosquitto_sub with the given protocol version (mqttv311 or
// mqttv5) on topic and returns once the broker has acknowledged the
// subscription.
func subscribe(t *testing.T, port int, version, topic string, auth ...string) *subscriber {
	t.Helper()
	bin := tool(t, "mosquitto_sub", "mosquitto-clients")
	// Piped, mosquitto_sub flushes only after a message; its SUBACK line must
	// come at once, so stdout is made line-buffered.
	stdbuf := tool(t, "stdbuf", "coreutils")
	args := []string{"-oL", bin, "-d", "-V", version, "-p", fmt.Sprint(port), "-q", "1", "-t", topic, "-v"}
	if len(auth) == 2 {
		args = append(args, "-u", auth[0], "-P", auth[1])
	}
	cmd := exec.Command(stdbuf, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s := &subscriber{version: version, changed: make(chan struct{})}
	subacked := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "Client ") || strings.HasPrefix(line, "Subscribed") {
				if strings.Contains(line, "received SUBACK") {
					once.Do(func() { close(subacked) })
				}
				continue
			}
			topic, payload, ok := strings.Cut(line, " ")
			if !ok {
				continue
			}
			m := message{Topic: topic, Raw: payload}
			if json.Unmarshal([]byte(payload), &m.Payload) != nil {
				continue
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
		}
	}()
	select {
	case <-subacked:
	case <-time.After(waitLimit):
		t.Fatalf("mosquitto_sub -V %s got no SUBACK", version)
	}
	return s
}

// mark is a position in the stream of messages.
func (s *subscriber) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// find returns the first message that matches, waiting for it if needed.
func (s *subscriber) find(t *testing.T, what string, match func(message) bool) message {
	t.Helper()
	m, _ := s.findSince(t, 0, what, match)
	return m
}

// findSince is find among the messages from position from on; it also
// returns the position after the match.
func (s *subscriber) findSince(t *testing.T, from int, what string, match func(message) bool) (message, int) {
	t.Helper()
	timeout := time.After(waitLimit)
	for i := from; ; {
		s.mu.Lock()
		msgs, changed := s.msgs, s.changed
		s.mu.Unlock()
		for ; i < len(msgs); i++ {
			if match(msgs[i]) {
				return msgs[i], i + 1
			}
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("mosquitto_sub -V %s: no %s within %v", s.version, what, waitLimit)
		}
	}
}

// count returns how many messages from position from on match.
func (s *subscriber) count(from int, match func(message) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.msgs[from:] {
		if match(m) {
			n++
		}
	}
	return n
}

// topicIs matches messages on topic.
func topicIs(topic string) func(message) bool {
	return func(m message) bool { return m.Topic == topic }
}

// statusWith matches a live_status state of gw whose entry for the camera
// of videoID satisfies ok. A dock names the entry by the camera's lens
// (".../99-0-0/wide-0" for ".../99-0-0/normal-0"), so the camera is
// matched, not the whole video_id.
func statusWith(gw, videoID string, ok func(map[string]any) bool) func(message) bool {
	camera := videoID[:strings.LastIndex(videoID, "/")+1]
	return func(m message) bool {
		if !stateWith(gw, "live_status")(m) {
			return false
		}
		list, _ := m.data()["live_status"].([]any)
		for _, e := range list {
			if e := e.(map[string]any); strings.HasPrefix(fmt.Sprint(e["video_id"]), camera) {
				return ok(e)
			}
		}
		return false
	}
}

// stateWith matches a state message of sn that carries key.
func stateWith(sn, key string) func(message) bool {
	return func(m message) bool {
		_, ok := m.data()[key]
		return m.Topic == "thing/product/"+sn+"/state" && ok
	}
}

// replyTo matches the services_reply to tid.
func replyTo(gw, tid string) func(message) bool {
	return func(m message) bool {
		return m.Topic == "thing/product/"+gw+"/services_reply" && m.str("tid") == tid
	}
}

// publish sends one message with mosquitto_pub.
func publish(t *testing.T, port int, topic string, payload any) {
	t.Helper()
	bin := tool(t, "mosquitto_pub", "mosquitto-clients")
	b, _ := json.Marshal(payload)
	out, err := exec.Command(bin, "-V", "mqttv311", "-p", fmt.Sprint(port), "-q", "1", "-t", topic, "-m", string(b)).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}
}

// service publishes a services command and returns its tid.
func service(t *testing.T, port int, gw, method string, data map[string]any) string {
	t.Helper()
	tid := fmt.Sprintf("tid-%s-%d", method, time.Now().UnixNano())
	publish(t, port, "thing/product/"+gw+"/services", map[string]any{
		"tid": tid, "bid": "bid-" + tid, "timestamp": time.Now().UnixMilli(), "method": method, "data": data,
	})
	return tid
}

// probe is ffprobe acting as a one-connection RTMP server that reads a
// few seconds of what is published to it and counts decoded frames.
type probe struct {
	proc *process
	json bytes.Buffer
	URL  string
	port int
}

// startProbe listens for one RTMP publisher on port (0: a free one) and
// returns once it is listening. It reads for the given seconds of media,
// or, with 0, until the publisher goes away.
func startProbe(t *testing.T, port int, seconds int) *probe {
	t.Helper()
	bin := tool(t, "ffprobe", "ffmpeg")
	if port == 0 {
		port = freePort(t)
	}
	p := &probe{port: port, URL: fmt.Sprintf("rtmp://127.0.0.1:%d/live/x", port)}
	args := []string{"-v", "error", "-listen", "1", "-select_streams", "v", "-count_frames",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json"}
	if seconds > 0 {
		args = append(args, "-read_intervals", fmt.Sprintf("%%+%d", seconds))
	}
	cmd := exec.Command(bin, append(args, p.URL)...)
	p.proc = &process{cmd: cmd, out: &testpeer.LogBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.json, p.proc.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.proc.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.proc.exited })
	waitListening(t, port)
	return p
}

// result waits for ffprobe to finish and returns what it decoded.
func (p *probe) result(t *testing.T) (codec string, width, height, frames int) {
	t.Helper()
	p.proc.wait(t)
	var out struct {
		Streams []struct {
			Codec  string `json:"codec_name"`
			Width  int    `json:"width"`
			Height int    `json:"height"`
			Frames string `json:"nb_read_frames"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(p.json.Bytes(), &out); err != nil || len(out.Streams) == 0 {
		t.Fatalf("ffprobe printed no stream (%v): %s\nstderr: %s", err, p.json.String(), p.proc.out.String())
	}
	s := out.Streams[0]
	fmt.Sscan(s.Frames, &frames)
	return s.Codec, s.Width, s.Height, frames
}

// notes collects a simulated device's notes.
type notes chan sim.Note

func (n notes) add(x sim.Note) {
	select {
	case n <- x:
	default:
	}
}

func (n notes) wait(t *testing.T, what string, match func(sim.Note) bool) sim.Note {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case x := <-n:
			if match(x) {
				return x
			}
		case <-timeout:
			t.Fatalf("no note %s within %v", what, waitLimit)
		}
	}
}

// runDevice runs a simulated device until the test ends and returns its
// log, which the test can search.
func runDevice(t *testing.T, run func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// testOptions are fast timings for tests, with the log captured.
func testOptions(t *testing.T, broker string, version int, n notes) (sim.Options, *testpeer.LogBuffer) {
	logs := &testpeer.LogBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("simulator log:\n%s", logs.String())
		}
	})
	return sim.Options{
		Broker: broker, MQTTVersion: version,
		OSDInterval: 200 * time.Millisecond, TopoRetry: 300 * time.Millisecond,
		EventInterval: 100 * time.Millisecond, Reconnect: 200 * time.Millisecond,
		Faults: sim.NewFaults(),
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(logs), &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnNote: n.add,
	}, logs
}
