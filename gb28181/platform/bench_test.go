package platform

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/skyrelay/skyrelay/gb28181/gbsim"
)

// parallel runs f for every device with at most workers at a time.
func parallel(b *testing.B, devs []*gbsim.Device, workers int, f func(*gbsim.Device) error) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	errs := make(chan error, len(devs))
	for _, d := range devs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(d); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// BenchmarkRegisterKeepalive has 1000 simulated devices (gbsim, SIP over
// UDP) register with digest (two round trips each; the first round also
// answers the platform's Catalog and DeviceInfo queries) and send a
// keepalive, 64 at a time, and reports registers/s and keepalives/s.
func BenchmarkRegisterKeepalive(b *testing.B) {
	const n = 1000
	p, _ := newPlatform(b, func(p *Platform) { p.Password = "bench-pw"; p.Log = testLog(b) })
	devs := make([]*gbsim.Device, n)
	for i := range devs {
		d, err := gbsim.New(gbsim.Config{Server: "127.0.0.1:" + strconv.Itoa(p.SIPPort()), ServerID: p.ServerID,
			DeviceID: fmt.Sprintf("3402000000132%07d", i), Password: "bench-pw"})
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		devs[i] = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var regTime, kaTime time.Duration
	rounds := 0
	for b.Loop() {
		t0 := time.Now()
		parallel(b, devs, 64, func(d *gbsim.Device) error { return d.Register(ctx) })
		t1 := time.Now()
		parallel(b, devs, 64, func(d *gbsim.Device) error { return d.Keepalive(ctx) })
		regTime += t1.Sub(t0)
		kaTime += time.Since(t1)
		rounds++
	}
	b.ReportMetric(float64(n*rounds)/regTime.Seconds(), "registers/s")
	b.ReportMetric(float64(n*rounds)/kaTime.Seconds(), "keepalives/s")
	if got := len(p.Devices()); got != n {
		b.Fatalf("%d devices registered, want %d", got, n)
	}
}

// BenchmarkStreamMemory measures the heap one live GB stream costs the
// platform: sessions set up by gbsim devices sending the clip in real time
// over UDP, heap compared before and after (bytes/stream).
func BenchmarkStreamMemory(b *testing.B) {
	const streams = 10
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		p, hub := newPlatform(b, func(p *Platform) { p.Password = "pw"; p.MediaPorts = mediaRange(b, streams) })
		devs := make([]*gbsim.Device, streams)
		for i := range devs {
			d, err := gbsim.New(gbsim.Config{Server: "127.0.0.1:" + strconv.Itoa(p.SIPPort()), ServerID: p.ServerID,
				DeviceID: fmt.Sprintf("3402000000132%07d", i), Password: "pw", Clip: clip(b)})
			if err != nil {
				b.Fatal(err)
			}
			devs[i] = d
			if err := d.Register(ctx); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i, d := range devs {
			path := "bench/" + strconv.Itoa(i)
			if _, err := p.Invite(ctx, d.ID(), d.ID(), "udp", WithPath(path)); err != nil {
				b.Fatal(err)
			}
			if err := hub.WaitReady(ctx, path); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(2 * time.Second) // let a GOP or so build up: this is a measurement, not synchronisation
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/streams, "heap-bytes/stream")
		for _, d := range devs {
			d.Close()
		}
		p.Close()
		cancel()
	}
}
