//go:build unix

package control

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/control/cloudapi"
)

// benchGateways is how many docks BenchmarkGateways1000 connects.
const benchGateways = 1000

// BenchmarkGateways1000 measures the control plane with 1 000 docks
// connected to the embedded broker over TCP, each a light MQTT client. The
// docks run in a child process (this test binary again, as
// TestBenchClientProcess), so the memory and CPU figures are the plane's and
// the broker's alone:
//
//   - mem_per_gateway: heap and stacks after GC with every dock connected,
//     announced (update_topo, live_capacity) and reporting osd, minus before,
//     divided by 1 000. It includes the broker's per-connection state.
//   - real rate: every dock sends osd every 2 s and a state change every
//     10 s; the plane's share of one core.
//   - msgs_per_s_per_core: the docks send osd and state as fast as they
//     can; messages handled divided by the CPU seconds this process used.
//   - direct: the same osd messages handed straight to the message handler
//     on one goroutine, without the broker.
//   - live_start overhead: POST /api/v1/live to its 201, minus the device's
//     own time (from receiving live_start_push to having written its reply)
//     and the media's (WaitReady, which returns as soon as the test signals
//     ready), with the 1 000 docks still connected.
//
// Run: go test -run '^$' -bench BenchmarkGateways1000 -benchtime 1x ./control/
// SKYRELAY_BENCH_HEAPPROFILE=file writes a heap profile with every dock
// connected; SKYRELAY_BENCH_REAL_CPUPROFILE=file a CPU profile of the
// real-rate phase.
func BenchmarkGateways1000(b *testing.B) {
	benchDirect(b)

	c := fastConfig()
	c.OfflineAfter = 5 * time.Minute
	c.IdleStopAfter = 0
	m := conf.MQTT{Broker: "embedded", Embedded: conf.MQTTEmbedded{Listen: "127.0.0.1:0"}}
	media := &benchMedia{}
	p := New(m, c, media, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := p.Initialize(); err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	counts := newMessageCounter(b, p)

	// Memory per gateway.
	before := memNow()
	child := startBenchChild(b, p.BrokerAddr())
	child.expect(b, "CONNECTED")
	benchWait(b, "every dock online with its cameras", func() bool {
		g, _ := p.reg.countOnline()
		return g == benchGateways && counts.get("state") >= benchGateways && counts.get("osd") >= benchGateways
	})
	after := memNow()
	report(b, "gateways", benchGateways, "gateways")
	report(b, "mem_per_gateway", float64(after.bytes-before.bytes)/benchGateways/1024, "KB/gateway")
	report(b, "goroutines_per_gateway", float64(after.goroutines-before.goroutines)/benchGateways, "goroutines/gateway")
	if f := os.Getenv("SKYRELAY_BENCH_HEAPPROFILE"); f != "" {
		out, _ := os.Create(f)
		_ = pprof.WriteHeapProfile(out)
		out.Close()
	}

	// The real rate: osd every 2 s, a state change every 10 s.
	if f := os.Getenv("SKYRELAY_BENCH_REAL_CPUPROFILE"); f != "" {
		out, _ := os.Create(f)
		_ = pprof.StartCPUProfile(out)
		defer out.Close()
	}
	n0, cpu0, t0 := counts.total(), cpuTime(), time.Now()
	sent := child.run(b, "REAL 6s")
	benchWait(b, "the real-rate messages handled", func() bool { return counts.total()-n0 >= sent })
	wall, cpu := time.Since(t0), cpuTime()-cpu0
	report(b, "real_rate_msgs_per_s", float64(counts.total()-n0)/wall.Seconds(), "msgs/s")
	report(b, "real_rate_cpu", 100*cpu.Seconds()/wall.Seconds(), "%core")
	pprof.StopCPUProfile()

	benchLiveStart(b, p, media)

	// Flat out: the docks send as fast as they can; handled messages and
	// CPU are sampled over a window while they still do. (Once they stop,
	// what sits in 1 000 socket buffers takes a while to drain; that tail
	// is left out and the docks are simply disconnected.)
	if _, err := fmt.Fprintln(child.stdin, "FLOOD 7s"); err != nil {
		b.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // warm-up, then the measured window
	n0, cpu0, t0 = counts.total(), cpuTime(), time.Now()
	time.Sleep(4 * time.Second)
	handled := float64(counts.total() - n0)
	wall, cpu = time.Since(t0), cpuTime()-cpu0
	report(b, "flood_msgs_per_s", handled/wall.Seconds(), "msgs/s")
	report(b, "flood_cpu", 100*cpu.Seconds()/wall.Seconds(), "%core")
	report(b, "msgs_per_s_per_core", handled/cpu.Seconds(), "msgs/s/core")
	child.quit(b) // mid-flood: what its sockets still hold is dropped
}

// benchDirect hands osd and state messages straight to onMessage.
func benchDirect(b *testing.B) {
	p := New(embeddedConfig(), fastConfig(), newFakeMedia(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	p.bus = discardBus{}
	defer p.Close()
	const n = 100000
	topics := make([]string, benchGateways)
	payloads := make([][]byte, benchGateways)
	for i := range benchGateways {
		gw := benchSN(i)
		topics[i] = "thing/product/" + gw + "/osd"
		payloads[i] = benchOSD(nil, gw, i)
		p.onMessage("sys/product/"+gw+"/status", []byte(topoMsg("t", gw, "A"+gw)))
	}
	runtime.GC()
	cpu0, t0 := cpuTime(), time.Now()
	for i := range n {
		p.onMessage(topics[i%benchGateways], payloads[i%benchGateways])
	}
	cpu, wall := cpuTime()-cpu0, time.Since(t0)
	report(b, "direct_msgs_per_s", n/wall.Seconds(), "msgs/s")
	report(b, "direct_msgs_per_s_per_core", n/cpu.Seconds(), "msgs/s/core")
}

// benchLiveStart measures what Skyrelay adds to a live start.
func benchLiveStart(b *testing.B, p *Plane, media *benchMedia) {
	const gw, runs = "LIVEDOCK", 200
	dev := startBenchDevice(b, p.BrokerAddr(), gw)
	defer dev.close()
	benchWait(b, "the live dock's cameras", func() bool {
		d, _ := p.Device(gw)
		return len(d.Cameras) == 3
	})
	srv := httptest.NewServer(apiHandler(p))
	defer srv.Close()
	client := srv.Client()
	vid := gw + "/165-0-7/normal-0"
	var overhead, total, device []float64
	for range runs {
		dev.took.Store(0)
		media.took.Store(0)
		t0 := time.Now()
		resp, err := client.Post(srv.URL+"/api/v1/live", "application/json", strings.NewReader(`{"video_id":"`+vid+`"}`))
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(t0)
		if resp.StatusCode != 201 {
			b.Fatalf("POST /api/v1/live = %d %s", resp.StatusCode, body)
		}
		dt, mt := time.Duration(dev.took.Load()), time.Duration(media.took.Load())
		if dt == 0 || mt == 0 {
			b.Fatalf("device time %s, media time %s: not measured", dt, mt)
		}
		overhead = append(overhead, ms(took-dt-mt))
		total = append(total, ms(took))
		device = append(device, ms(dt))
		req, _ := http.NewRequest("DELETE", srv.URL+"/api/v1/live/"+vid, nil)
		resp, err = client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 {
			b.Fatalf("DELETE = %d", resp.StatusCode)
		}
	}
	report(b, "live_start_total_p50", pct(total, 50), "ms")
	report(b, "live_start_device_time_p50", pct(device, 50), "ms")
	report(b, "live_start_overhead_p50", pct(overhead, 50), "ms")
	report(b, "live_start_overhead_p95", pct(overhead, 95), "ms")
	report(b, "live_start_overhead_max", pct(overhead, 100), "ms")
	// The first start pays for the HTTP connection and cold code paths.
	report(b, "live_start_overhead_first", overhead[0], "ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// pct is the q-th percentile (nearest rank).
func pct(v []float64, q float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(q/100*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// report prints a figure the way internal/gwproc.Report does.
func report(b *testing.B, name string, value float64, unit string) {
	b.ReportMetric(value, unit)
	fmt.Printf("FIGURE %-60s %12.4f %s\n", name, value, unit)
}

func benchWait(b *testing.B, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for d := time.Millisecond; !cond(); d = min(2*d, 20*time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("no %s within 30s", what)
		}
		time.Sleep(d)
	}
}

type memSample struct {
	bytes      int64
	goroutines int
}

func memNow() memSample {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{bytes: int64(ms.HeapAlloc + ms.StackInuse), goroutines: runtime.NumGoroutine()}
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// messageCounter reads skyrelay_mqtt_messages_total.
type messageCounter struct {
	reg *prometheus.Registry
}

func newMessageCounter(b *testing.B, p *Plane) *messageCounter {
	reg := prometheus.NewRegistry()
	if err := reg.Register(p.met.messages); err != nil {
		b.Fatal(err)
	}
	return &messageCounter{reg: reg}
}

func (c *messageCounter) read() map[string]int64 {
	out := map[string]int64{}
	mfs, _ := c.reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				out[l.GetValue()] = int64(m.GetCounter().GetValue())
			}
		}
	}
	return out
}

func (c *messageCounter) get(kind string) int64 { return c.read()[kind] }

// total counts osd and state messages, what the docks send after their
// announcement.
func (c *messageCounter) total() int64 {
	m := c.read()
	return m["osd"] + m["state"]
}

// benchMedia is a media gateway whose streams are ready as soon as asked.
type benchMedia struct {
	took atomic.Int64 // the last WaitReady's duration
}

func (m *benchMedia) MintPush(path, _ string) (string, func(), error) {
	return "rtmp://127.0.0.1:1935/" + path + "?secret=bench", func() {}, nil
}

func (m *benchMedia) WaitReady(ctx context.Context, _ string) error {
	start := time.Now()
	// The test's signal: a stream that became ready just now.
	ready := make(chan struct{})
	go close(ready)
	select {
	case <-ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	m.took.Store(int64(time.Since(start)))
	return nil
}

func (m *benchMedia) PlayURLs(path string) PlayURLs {
	return PlayURLs{WHEP: "http://127.0.0.1/" + path + "/whep"}
}
func (m *benchMedia) Readers(string) int            { return 0 }
func (m *benchMedia) Receives(protocol string) bool { return protocol == "rtmp" }
func (m *benchMedia) Pull(string, string) (func(), error) {
	return nil, fmt.Errorf("the benchmark media cannot pull")
}

// benchDevice is a dock that answers every service at once.
type benchDevice struct {
	conn net.Conn
	took atomic.Int64 // the last live_start_push's receive-to-reply time
	done chan struct{}
}

func startBenchDevice(b *testing.B, addr, gw string) *benchDevice {
	c, r, err := wireDial(addr, "bench-live-"+gw)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Write(wireSubscribe(1, "thing/product/"+gw+"/services")); err != nil {
		b.Fatal(err)
	}
	if h, _, err := readPacket(r); err != nil || h != 0x90 {
		b.Fatalf("SUBACK: %#x %v", h, err)
	}
	var out []byte
	out = appendPublish(out, "sys/product/"+gw+"/status", []byte(topoMsg("t", gw, "A"+gw)))
	out = appendPublish(out, "thing/product/"+gw+"/state", []byte(msg("cap", "", dockCapacity(gw, "A"+gw), nil)))
	if _, err := c.Write(out); err != nil {
		b.Fatal(err)
	}
	d := &benchDevice{conn: c, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		for {
			h, body, err := readPacket(r)
			if err != nil {
				return
			}
			if h>>4 != 3 {
				continue
			}
			start := time.Now()
			_, payload, _, err := parsePublish(h, body)
			if err != nil {
				return
			}
			var cmd struct {
				TID, BID, Method string
			}
			_ = json.Unmarshal(payload, &cmd)
			rep := fmt.Sprintf(`{"tid":%q,"bid":%q,"timestamp":%d,"method":%q,"data":{"result":0}}`, cmd.TID, cmd.BID, time.Now().UnixMilli(), cmd.Method)
			out := appendPublish(nil, "thing/product/"+gw+"/services_reply", []byte(rep))
			// Stored before the write: the plane may answer the API before
			// this goroutine runs again. The write itself is counted as
			// Skyrelay's.
			if cmd.Method == "live_start_push" {
				d.took.Store(int64(time.Since(start)))
			}
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}()
	return d
}

func (d *benchDevice) close() {
	d.conn.Close()
	<-d.done
}

// --- the child process that plays the 1 000 docks ---

type benchChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

func startBenchChild(b *testing.B, addr string) *benchChild {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchClientProcess$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), "SKYRELAY_BENCH_BROKER="+addr)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &benchChild{cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return c
}

// expect waits for a line starting with prefix and returns it.
func (c *benchChild) expect(b *testing.B, prefix string) string {
	b.Helper()
	tm := time.NewTimer(60 * time.Second)
	defer tm.Stop()
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				b.Fatalf("the dock process ended before %s", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-tm.C:
			b.Fatalf("the dock process did not say %s", prefix)
		}
	}
}

// run sends a phase command and returns how many messages it sent.
func (c *benchChild) run(b *testing.B, command string) int64 {
	b.Helper()
	if _, err := fmt.Fprintln(c.stdin, command); err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(c.expect(b, "DONE"))
	n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	if err != nil {
		b.Fatalf("DONE line %v", f)
	}
	return n
}

func (c *benchChild) quit(b *testing.B) {
	_ = c.stdin.Close()
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

func benchSN(i int) string { return fmt.Sprintf("BENCHDOCK%04d", i) }

// benchOSDData is a dock osd of a realistic size (about 1 kB).
var benchOSDData = func() string {
	d := map[string]any{
		"network_state":      map[string]any{"type": 2, "quality": 4, "rate": 2854.7},
		"drone_in_dock":      1,
		"drone_charge_state": map[string]any{"state": 0, "capacity_percent": 97},
		"rainfall":           0, "wind_speed": 1.2, "environment_temperature": 21.5, "temperature": 24.1, "humidity": 55,
		"latitude": 22.907809968, "longitude": 113.703482143, "height": 38.4,
		"alternate_land_point": map[string]any{"latitude": 22.9078, "longitude": 113.7034, "height": 38.4, "safe_land_height": 30, "is_configured": 1},
		"first_power_on":       1667895813542, "job_number": 412, "acc_time": 4312077, "activation_time": 1667895813,
		"maintain_status":         map[string]any{"maintain_status_array": []any{map[string]any{"state": 0, "last_maintain_type": 17, "last_maintain_time": 0, "last_maintain_work_sorties": 0}}},
		"electric_supply_voltage": 222, "working_voltage": 24917, "working_current": 1260, "backup_battery": map[string]any{"voltage": 26296, "temperature": 24.8, "switch": 1},
		"air_conditioner": map[string]any{"air_conditioner_state": 0, "switch_time": 0},
		"mode_code":       0, "cover_state": 0, "putter_state": 0, "supplement_light_state": 0, "emergency_stop_state": 0,
		"sub_device":        map[string]any{"device_sn": "1581F5BMD228Q00A82XX", "device_model_key": "0-67-0", "device_online_status": 1, "device_paired": 1},
		"position_state":    map[string]any{"is_calibration": 1, "is_fixed": 2, "quality": 5, "gps_number": 12, "rtk_number": 30},
		"storage":           map[string]any{"total": 82045336, "used": 11245632},
		"media_file_detail": map[string]any{"remain_upload": 0},
		"wireless_link":     map[string]any{"dongle_number": 0, "4g_link_state": 0, "sdr_link_state": 1, "link_workmode": 0, "sdr_quality": 5, "4g_quality": 0, "sdr_freq_band": 2.4},
	}
	b, _ := json.Marshal(d)
	return string(b)
}()

// benchOSD appends an osd message with a unique tid.
func benchOSD(buf []byte, gw string, seq int) []byte {
	buf = append(buf, `{"tid":"osd-`...)
	buf = strconv.AppendInt(buf, int64(seq), 10)
	buf = append(buf, `","bid":"b","timestamp":`...)
	buf = strconv.AppendInt(buf, time.Now().UnixMilli(), 10)
	buf = append(buf, `,"gateway":"`...)
	buf = append(buf, gw...)
	buf = append(buf, `","data":`...)
	buf = append(buf, benchOSDData...)
	return append(buf, '}')
}

// benchState appends a state change (the dock's mode) with a unique tid.
func benchState(buf []byte, gw string, seq int) []byte {
	buf = append(buf, `{"tid":"st-`...)
	buf = strconv.AppendInt(buf, int64(seq), 10)
	buf = append(buf, `","bid":"b","timestamp":`...)
	buf = strconv.AppendInt(buf, time.Now().UnixMilli(), 10)
	buf = append(buf, `,"gateway":"`...)
	buf = append(buf, gw...)
	buf = append(buf, `","data":{"mode_code":`...)
	buf = strconv.AppendInt(buf, int64(seq%5), 10)
	return append(buf, `}}`...)
}

// TestBenchClientProcess is BenchmarkGateways1000's child process: the
// 1 000 docks. Run on its own it does nothing.
func TestBenchClientProcess(t *testing.T) {
	addr := os.Getenv("SKYRELAY_BENCH_BROKER")
	if addr == "" {
		return
	}
	conns := make([]net.Conn, benchGateways)
	var wg sync.WaitGroup
	errs := make(chan error, benchGateways)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < benchGateways; i += 8 {
				gw := benchSN(i)
				c, _, err := wireDial(addr, "bench-"+gw)
				if err != nil {
					errs <- err
					return
				}
				conns[i] = c
				// Nothing more is read: the broker sends a dock nothing it
				// has not subscribed to.
				var out []byte
				out = appendPublish(out, "sys/product/"+gw+"/status", []byte(topoMsg("topo-"+gw, gw, "AIR"+gw)))
				out = appendPublish(out, "thing/product/"+gw+"/state", []byte(msg("cap-"+gw, "", dockCapacity(gw, "AIR"+gw), nil)))
				out = appendPublish(out, "thing/product/"+gw+"/osd", benchOSD(nil, gw, 0))
				if _, err := c.Write(out); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	fmt.Println("CONNECTED")
	seq := 1
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		d, err := time.ParseDuration(f[1])
		if err != nil {
			t.Fatal(err)
		}
		var sent int64
		switch f[0] {
		case "REAL":
			sent = benchReal(t, conns, d, &seq)
		case "FLOOD":
			sent = benchFlood(t, conns, d, &seq)
		}
		fmt.Println("DONE", sent)
	}
}

// benchReal: every dock sends osd every 2 s, and every fifth time a state
// change too, spread evenly.
func benchReal(t *testing.T, conns []net.Conn, d time.Duration, seq *int) int64 {
	const tick = 10 * time.Millisecond
	perTick := len(conns) * int(tick) / int(2*time.Second)
	tk := time.NewTicker(tick)
	defer tk.Stop()
	var sent int64
	next, rounds := 0, 0
	var buf []byte
	for end := time.Now().Add(d); time.Now().Before(end); {
		<-tk.C
		for range perTick {
			gw := benchSN(next)
			buf = appendPublish(buf[:0], "thing/product/"+gw+"/osd", benchOSD(nil, gw, *seq))
			sent++
			if rounds%5 == 0 {
				buf = appendPublish(buf, "thing/product/"+gw+"/state", benchState(nil, gw, *seq))
				sent++
			}
			*seq++
			if _, err := conns[next].Write(buf); err != nil {
				t.Fatal(err)
			}
			if next++; next == len(conns) {
				next, rounds = 0, rounds+1
			}
		}
	}
	return sent
}

// benchFlood: the docks send as fast as the plane takes it, four osd and
// one state change per write, from four goroutines.
func benchFlood(t *testing.T, conns []net.Conn, d time.Duration, seq *int) int64 {
	const workers = 4
	var sent atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	base := *seq
	// Writes blocked on a full socket give up at the end: the parent stops
	// measuring before then and the connections are dropped afterwards.
	for _, c := range conns {
		_ = c.SetWriteDeadline(end)
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf, pl []byte
			s := base + w*10_000_000
			for time.Now().Before(end) {
				for i := w; i < len(conns); i += workers {
					gw := benchSN(i)
					buf = buf[:0]
					for k := range 4 {
						pl = benchOSD(pl[:0], gw, s+k)
						buf = appendPublish(buf, "thing/product/"+gw+"/osd", pl)
					}
					pl = benchState(pl[:0], gw, s)
					buf = appendPublish(buf, "thing/product/"+gw+"/state", pl)
					s += 5
					if _, err := conns[i].Write(buf); err != nil {
						return // the deadline
					}
					sent.Add(5)
				}
			}
		}()
	}
	wg.Wait()
	*seq = base + workers*10_000_000
	return sent.Load()
}

// BenchmarkOnMessageOSD is the message handler alone on one dock osd.
func BenchmarkOnMessageOSD(b *testing.B) {
	p := New(embeddedConfig(), fastConfig(), newFakeMedia(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	p.bus = discardBus{}
	defer p.Close()
	gw := benchSN(0)
	p.onMessage("sys/product/"+gw+"/status", []byte(topoMsg("t", gw, "A"+gw)))
	pl := benchOSD(nil, gw, 1)
	topic := "thing/product/" + gw + "/osd"
	b.SetBytes(int64(len(pl)))
	b.ReportAllocs()
	for b.Loop() {
		p.onMessage(topic, pl)
	}
}

// BenchmarkValidJSON compares Valid with json.Valid on a dock osd.
func BenchmarkValidJSON(b *testing.B) {
	pl := benchOSD(nil, "GW", 7)
	for _, c := range []struct {
		name string
		fn   func([]byte) bool
	}{{"encoding_json", json.Valid}, {"Valid", cloudapi.Valid}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(pl)))
			for b.Loop() {
				if !c.fn(pl) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
