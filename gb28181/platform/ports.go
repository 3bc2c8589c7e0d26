package platform

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
)

// errNoPort is returned when every port of gb28181.media_ports is taken.
var errNoPort = errors.New("gb28181: no free media port in gb28181.media_ports")

// parsePortRange reads "30000-30499".
func parsePortRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("must be a port range like 30000-30499, not %q", s)
	}
	return lo, hi, nil
}

// portPool hands out media ports round-robin, so that a port a session just
// gave back is not reused at once (late packets of the old session would
// land in the new one).
type portPool struct {
	host   string
	lo, hi int

	mu   sync.Mutex
	next int
	used map[int]bool
}

func newPortPool(host string, lo, hi int) *portPool {
	return &portPool{host: host, lo: lo, hi: hi, next: lo, used: map[int]bool{}}
}

// mediaListeners are the UDP socket and TCP listener of one media port.
type mediaListeners struct {
	port int
	udp  *net.UDPConn
	tcp  *net.TCPListener
}

func (m *mediaListeners) close() {
	m.udp.Close()
	m.tcp.Close()
}

// take binds the next port where both UDP and TCP are free.
func (pp *portPool) take() (*mediaListeners, error) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	n := pp.hi - pp.lo + 1
	for range n {
		port := pp.next
		pp.next++
		if pp.next > pp.hi {
			pp.next = pp.lo
		}
		if pp.used[port] {
			continue
		}
		addr := net.JoinHostPort(pp.host, strconv.Itoa(port))
		uc, err := net.ListenPacket("udp", addr)
		if err != nil {
			continue // taken by someone else
		}
		tl, err := net.Listen("tcp", addr)
		if err != nil {
			uc.Close()
			continue
		}
		// A GB stream is a few Mbit/s in bursts of a frame: a larger socket
		// buffer absorbs a key frame arriving faster than we read.
		_ = uc.(*net.UDPConn).SetReadBuffer(4 << 20)
		pp.used[port] = true
		return &mediaListeners{port: port, udp: uc.(*net.UDPConn), tcp: tl.(*net.TCPListener)}, nil
	}
	return nil, errNoPort
}

// give closes the listeners and returns the port.
func (pp *portPool) give(m *mediaListeners) {
	m.close()
	pp.mu.Lock()
	delete(pp.used, m.port)
	pp.mu.Unlock()
}

// inUse is how many ports sessions hold.
func (pp *portPool) inUse() int {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return len(pp.used)
}
