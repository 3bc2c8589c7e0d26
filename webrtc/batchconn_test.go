package webrtc

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"
)

// runs splits sizes the way sendBatch does and returns the run lengths.
func runs(sizes []int) []int {
	var out []int
	for len(sizes) > 0 {
		n := nextRun(sizes)
		out = append(out, n)
		sizes = sizes[n:]
	}
	return out
}

func repeat(size, n int) []int { return slices.Repeat([]int{size}, n) }

func TestNextRun(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sizes []int
		want  []int
	}{
		{"lone", []int{1200}, []int{1}},
		{"equal", repeat(1188, 3), []int{3}},
		{"shorter last joins", []int{1188, 1188, 400}, []int{3}},
		{"shorter ends the run", []int{1188, 400, 1188, 1188}, []int{2, 2}},
		{"longer starts a run", []int{300, 1188, 1188, 90}, []int{1, 3}},
		// An FU-A keyframe: equal fragments, a short last one, then
		// the next NAL unit's fragments.
		{"keyframe", append(append(repeat(1188, 30), 517), append(repeat(1100, 5), 20)...), []int{31, 6}},
		{"64 segments at most", repeat(100, 130), []int{64, 64, 2}},
		{"65000 bytes at most", repeat(1200, 60), []int{54, 6}},
		{"short last over the byte limit", append(repeat(1200, 54), 300), []int{54, 1}},
		{"empty packets go alone", []int{0, 100, 0, 100, 100}, []int{1, 1, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := runs(tc.sizes); !slices.Equal(got, tc.want) {
				t.Fatalf("runs(%v) = %v, want %v", tc.sizes, got, tc.want)
			}
		})
	}
}

// batchPeers is a batchConn on loopback and two plain receivers.
func batchPeers(t testing.TB) (c *batchConn, a, b *net.UDPConn) {
	t.Helper()
	listen := func() *net.UDPConn {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = u.Close() })
		return u
	}
	c = newBatchConn(listen(), nil)
	a, b = listen(), listen()
	for _, r := range []*net.UDPConn{a, b} {
		// Room for a whole test batch: the receiver reads after it.
		if err := r.SetReadBuffer(1 << 20); err != nil {
			t.Fatal(err)
		}
	}
	return c, a, b
}

func addrOf(u *net.UDPConn) netip.AddrPort { return u.LocalAddr().(*net.UDPAddr).AddrPort() }

// packets makes n distinct packets of the given sizes, cycling.
func packets(sizes []int) [][]byte {
	out := make([][]byte, len(sizes))
	for i, s := range sizes {
		p := make([]byte, s)
		for j := range p {
			p[j] = byte(i*7 + j)
		}
		out[i] = p
	}
	return out
}

// receive reads n datagrams; the deadline only bounds a failing test.
func receive(t *testing.T, u *net.UDPConn, n int) [][]byte {
	t.Helper()
	if err := u.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	buf := make([]byte, 65536)
	for len(got) < n {
		k, err := u.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(got), n, err)
		}
		got = append(got, bytes.Clone(buf[:k]))
	}
	return got
}

func sameDatagrams(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d datagrams, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("datagram %d: %d bytes %x…, want %d bytes %x…", i, len(got[i]), got[i][:min(8, len(got[i]))], len(want[i]), want[i][:min(8, len(want[i]))])
		}
	}
}

// mixedSizes has runs of every kind: FU-A fragments with a short last
// one, lone packets, a run cut by the 64-segment limit.
var mixedSizes = slices.Concat(repeat(1188, 20), []int{640, 90, 1188}, repeat(1000, 6), []int{1000, 999}, repeat(100, 70), []int{30})

// writeThrough writes each packet from one reused buffer, as pion does,
// so a batch that kept a reference instead of a copy would send garbage.
func writeThrough(t *testing.T, c *batchConn, pkts [][]byte, to netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 1500)
	for i, p := range pkts {
		w := buf[:len(p)]
		copy(w, p)
		var n int
		var err error
		if i%2 == 0 {
			n, err = c.WriteToAddrPort(w, to)
		} else {
			n, err = c.WriteTo(w, net.UDPAddrFromAddrPort(to))
		}
		if err != nil || n != len(p) {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
		clear(w)
	}
}

func TestBatchConnCorked(t *testing.T) {
	c, a, _ := batchPeers(t)
	to := addrOf(a)
	b := c.cork(to)
	if !batchSupported {
		if b != nil {
			t.Fatal("cork on a platform without batching")
		}
		return
	}
	if b == nil {
		t.Fatal("cork returned nil")
	}
	// The key is the plain IPv4 address, however the caller spells it.
	mapped := netip.AddrPortFrom(netip.AddrFrom16(to.Addr().As16()), to.Port())
	if c.cork(mapped) != nil {
		t.Fatal("a second cork for the same address")
	}
	want := packets(mixedSizes)
	writeThrough(t, c, want, mapped)
	if len(b.sizes) != len(want) {
		t.Fatalf("the batch holds %d packets of %d written", len(b.sizes), len(want))
	}
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	sameDatagrams(t, receive(t, a, len(want)), want)
	if c.noGSO.Load() {
		t.Fatal("the kernel refused GSO on loopback: the batch went packet by packet")
	}
	// Flushed: writes pass straight through again, and the address can be
	// corked anew.
	if c.corked.Load() != 0 {
		t.Fatalf("%d batches still open", c.corked.Load())
	}
	again := packets([]int{1188, 1188})
	writeThrough(t, c, again, to)
	sameDatagrams(t, receive(t, a, 2), again)
	if b := c.cork(to); b == nil {
		t.Fatal("cannot cork again after flush")
	} else if err := b.flush(); err != nil {
		t.Fatalf("flushing an empty batch: %v", err)
	}
}

func TestBatchConnOtherAddressPasses(t *testing.T) {
	c, a, other := batchPeers(t)
	b := c.cork(addrOf(a))
	if b == nil {
		if batchSupported {
			t.Fatal("cork returned nil")
		}
		return
	}
	held := packets(repeat(1188, 5))
	writeThrough(t, c, held, addrOf(a))
	// Received while a's batch is still open: not held back.
	passing := packets([]int{200, 1188, 1188})
	writeThrough(t, c, passing, addrOf(other))
	sameDatagrams(t, receive(t, other, len(passing)), passing)
	if len(b.sizes) != len(held) {
		t.Fatalf("a's batch holds %d packets, want %d", len(b.sizes), len(held))
	}
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	sameDatagrams(t, receive(t, a, len(held)), held)
}

func TestBatchConnGSORefused(t *testing.T) {
	c, a, _ := batchPeers(t)
	var refusals []error
	c.gsoRefused = func(err error) { refusals = append(refusals, err) }
	c.testRefuseGSO.Store(true)
	if !batchSupported {
		if c.cork(addrOf(a)) != nil {
			t.Fatal("cork on a platform without batching")
		}
		return
	}
	for round := range 2 {
		b := c.cork(addrOf(a))
		if b == nil {
			t.Fatal("cork returned nil")
		}
		want := packets(mixedSizes)
		writeThrough(t, c, want, addrOf(a))
		if err := b.flush(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		sameDatagrams(t, receive(t, a, len(want)), want)
	}
	if !c.noGSO.Load() {
		t.Fatal("GSO still on after the kernel refused it")
	}
	if len(refusals) != 1 || !errors.Is(refusals[0], syscall.EIO) {
		t.Fatalf("refusals reported: %v, want one EIO", refusals)
	}
}

// BenchmarkBatchConn compares a 40-packet unit sent packet by packet and
// corked, on loopback.
func BenchmarkBatchConn(b *testing.B) {
	c, a, _ := batchPeers(b)
	to := addrOf(a)
	pkts := packets(append(repeat(1188, 39), 700))
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, err := a.Read(buf); err != nil {
				return
			}
		}
	}()
	for _, corked := range []bool{false, true} {
		b.Run(fmt.Sprintf("corked=%v", corked), func(b *testing.B) {
			for b.Loop() {
				var bt *batch
				if corked {
					bt = c.cork(to)
				}
				for _, p := range pkts {
					if _, err := c.WriteToAddrPort(p, to); err != nil {
						b.Fatal(err)
					}
				}
				if bt != nil {
					if err := bt.flush(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
