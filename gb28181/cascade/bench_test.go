package cascade

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/skyrelay/skyrelay/gb28181/ps"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkUpstreamChannels serves 50 streams (the test clip at 25 fps,
// about 30 kB/s each) to an upper platform over UDP, INVITEd at once, and
// reports the CPU seconds the serving costs per channel-second on top of
// the ingest: the process's CPU time over 3 s with the 50 sessions, minus
// the mean of the same with the streams alone before and after, over
// 50 × 3 s. The upper's sockets are
// bound but never read, so that its receiving costs nothing here.
func BenchmarkUpstreamChannels(b *testing.B) {
	b.Run("clip-530kbps", func(b *testing.B) { benchChannels(b, 0) })
	// 4 Mbit/s, what a DJI camera pushes: 20 kB frames at 25 fps.
	b.Run("4Mbps", func(b *testing.B) { benchChannels(b, 20000) })
}

func benchChannels(b *testing.B, frameSize int) {
	const n, window = 50, 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	hub := newHub(b)
	for i := range n {
		publishSized(b, hub, fmt.Sprintf("live/bench%02d", i), frameSize)
	}
	up := newUpper(b, "udp", false)
	u := newLower(b, up, hub, nil)
	up.next(ctx, "REGISTER", isMethod(sip.REGISTER))
	measure := func() time.Duration {
		c0 := cpuTime()
		time.Sleep(window) // the measurement window itself
		return cpuTime() - c0
	}
	for b.Loop() {
		base := measure()
		var socks []net.PacketConn
		var dlgs []*sipgo.DialogClientSession
		for _, c := range u.ChannelList() {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			socks = append(socks, pc)
			m := &media{t: b, mode: "udp", port: pc.LocalAddr().(*net.UDPAddr).Port}
			dlg, _ := up.invite(ctx, c.ID, m.offer("0200012345"))
			dlgs = append(dlgs, dlg)
		}
		if len(u.Sessions()) != n {
			b.Fatalf("%d sessions", len(u.Sessions()))
		}
		var bytes0 uint64
		for _, s := range u.Sessions() {
			bytes0 += s.Bytes
		}
		served := measure()
		var pkts, bytes1 uint64
		for _, s := range u.Sessions() {
			pkts += s.Packets
			bytes1 += s.Bytes
		}
		b.ReportMetric(float64(bytes1-bytes0)*8/window.Seconds()/1e6/n, "Mbps/channel")
		if pkts == 0 {
			b.Fatal("nothing sent")
		}
		for _, d := range dlgs {
			_ = d.Bye(ctx)
		}
		for _, pc := range socks {
			pc.Close()
		}
		// The ingest alone again: its cost is the mean of before and after.
		base = (base + measure()) / 2
		b.ReportMetric((served-base).Seconds()/(n*window.Seconds()), "cpu-s/channel-s")
		b.ReportMetric(base.Seconds()/window.Seconds(), "ingest-cpu-s/s")
	}
}

// BenchmarkInviteFirstRTP INVITEs a live stream 40 times over UDP and
// reports the median time from sending the INVITE to the first RTP packet,
// and to the last packet of the first (key) frame: the first picture the
// upper can decode, as the GOP cache is replayed from its key frame.
func BenchmarkInviteFirstRTP(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	up, u := registered(ctx, b, "udp", false)
	ch := u.ChannelList()[0].ID
	for b.Loop() {
		var first, decodable []time.Duration
		for range 40 {
			m := newMedia(b, "udp")
			t0 := time.Now()
			dlg, _ := up.invite(ctx, ch, m.offer("0200012345"))
			p := <-m.pkts
			first = append(first, time.Since(t0))
			_, payload, _ := ps.ParseRTP(p)
			if !bytes.HasPrefix(payload, []byte{0, 0, 1, 0xBA}) || !bytes.Contains(payload, []byte{0, 0, 1, 0xBC}) {
				b.Fatal("the first packet does not start a key frame pack")
			}
			for {
				h, _, _ := ps.ParseRTP(p)
				if h.Marker {
					break
				}
				p = <-m.pkts
			}
			decodable = append(decodable, time.Since(t0))
			_ = dlg.Bye(ctx)
			m.pc.Close()
		}
		b.ReportMetric(median(first).Seconds()*1000, "ms-invite-to-first-rtp")
		b.ReportMetric(median(decodable).Seconds()*1000, "ms-invite-to-first-frame")
	}
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}
