package webrtc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	pion "github.com/pion/webrtc/v4"
)

// ICEAddress is one transport address the server announces in its ICE
// candidates: what a browser will try to reach.
type ICEAddress struct {
	Protocol string `json:"protocol"` // "udp" or "tcp"
	IP       string `json:"ip"`
	Port     int    `json:"port"`
}

func (a ICEAddress) String() string {
	return a.Protocol + "/" + net.JoinHostPort(a.IP, strconv.Itoa(a.Port))
}

// iceNet is the part of the Server every PeerConnection shares: the one UDP
// socket and the one TCP listener, demultiplexed by ICE username fragment,
// and the candidate policy.
type iceNet struct {
	udp    *net.UDPConn
	batch  *batchConn // udp as pion's mux writes to it (batchconn.go)
	tcp    *net.TCPListener
	udpMux ice.UDPMux
	tcpMux ice.TCPMux
	// loopback is set when the server listens on a loopback address only
	// (tests, a server behind a reverse proxy on the same host): the
	// loopback address is then the one candidate worth announcing.
	loopback bool
	public   []string
	logs     pionLogs
}

// openICE binds the UDP socket and the TCP listener on the same port. With
// port 0 a free UDP port is chosen and the TCP listener follows it.
func openICE(listen string, logs pionLogs) (*iceNet, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("webrtc.listen %q: %w", listen, err)
	}
	ip := net.ParseIP(host)
	if host != "" && (ip == nil || ip.To4() == nil) {
		return nil, fmt.Errorf("webrtc.listen %q: the host must be empty or an IPv4 address", listen)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return nil, fmt.Errorf("webrtc.listen %q: invalid port", listen)
	}
	n := &iceNet{logs: logs, loopback: ip != nil && ip.IsLoopback()}
	for try := 0; ; try++ {
		// udp4/tcp4: a socket on [::] would make pion announce IPv6 host
		// candidates that most viewers cannot reach.
		n.udp, err = net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: p})
		if err != nil {
			return nil, fmt.Errorf("webrtc.listen: udp: %w", err)
		}
		got := n.udp.LocalAddr().(*net.UDPAddr).Port
		n.tcp, err = net.ListenTCP("tcp4", &net.TCPAddr{IP: ip, Port: got})
		if err == nil {
			break
		}
		_ = n.udp.Close()
		if p != 0 || try == 20 {
			return nil, fmt.Errorf("webrtc.listen: tcp: %w", err)
		}
	}
	// The UDP socket listens on all addresses, which pion's UDPMuxDefault
	// supports by enumerating the interfaces itself (it warns about it;
	// the warning goes to debug through pionLogs).
	n.batch = newBatchConn(n.udp, func(err error) {
		logs.log.Warn("the kernel refused UDP GSO: WHEP packets are sent one by one", "err", err)
	})
	n.udpMux = pion.NewICEUDPMux(logs.NewLogger("udpmux"), n.batch)
	n.tcpMux = pion.NewICETCPMux(logs.NewLogger("tcpmux"), n.tcp, 32)
	return n, nil
}

// Port is the UDP and TCP port every peer shares.
func (n *iceNet) port() int { return n.udp.LocalAddr().(*net.UDPAddr).Port }

func (n *iceNet) close() {
	if n == nil {
		return
	}
	_ = n.udpMux.Close()
	_ = n.tcpMux.Close()
	_ = n.udp.Close()
	_ = n.tcp.Close()
}

// settingEngine is the per-peer pion configuration: shared sockets,
// IPv4 only, no mDNS (browsers hide their own host addresses behind mDNS
// names, which a server need not resolve: their checks arrive as
// peer-reflexive candidates), and the public addresses as host candidates.
func (n *iceNet) settingEngine() pion.SettingEngine {
	var se pion.SettingEngine
	se.LoggerFactory = n.logs
	se.SetICEUDPMux(n.udpMux)
	se.SetICETCPMux(n.tcpMux)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeTCP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(n.loopback)
	if len(n.public) > 0 {
		// Replace: the configured addresses are the only ones announced, so
		// a container's or a NATed host's private address never reaches a
		// browser it would only confuse. List the LAN address as well when
		// LAN viewers should connect directly.
		_ = se.SetICEAddressRewriteRules(pion.ICEAddressRewriteRule{
			External:        n.public,
			AsCandidateType: pion.ICECandidateTypeHost,
			Mode:            pion.ICEAddressRewriteReplace,
		})
	}
	// Consent freshness: a viewer that vanished without DELETE (closed tab,
	// lost network) is noticed within seconds.
	se.SetICETimeouts(5*time.Second, 15*time.Second, 2*time.Second)
	return se
}

// resolvePublic turns webrtc.public_ips entries (IPv4 addresses or host
// names) into IPv4 addresses, once at start-up.
func resolvePublic(entries []string) ([]string, error) {
	var out []string
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if ip := net.ParseIP(e); ip != nil {
			if ip.To4() == nil {
				return nil, fmt.Errorf("webrtc.public_ips: %q is not IPv4 (peers use udp4/tcp4)", e)
			}
			out = append(out, ip.To4().String())
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip4", e)
		cancel()
		if err != nil || len(ips) == 0 {
			return nil, fmt.Errorf("webrtc.public_ips: cannot resolve %q to an IPv4 address: %v", e, err)
		}
		out = append(out, ips[0].String())
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// probeAddresses gathers candidates once with the real settings, so that
// what the API shows is what pion will announce, not a guess.
func (n *iceNet) probeAddresses(ctx context.Context) ([]ICEAddress, error) {
	api := pion.NewAPI(pion.WithSettingEngine(n.settingEngine()))
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return nil, err
	}
	defer func() { _ = pc.Close() }()
	if _, err := pc.CreateDataChannel("probe", nil); err != nil {
		return nil, err
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return nil, err
	}
	done := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return nil, err
	}
	select {
	case <-done:
	case <-ctx.Done():
		return nil, errors.New("gathering ICE candidates timed out")
	}
	return candidateAddresses(pc.LocalDescription().SDP), nil
}

// candidateAddresses lists the RTP-component candidates of an SDP
// (RFC 8839 §5.1: foundation component transport priority address port typ
// type ...), sorted and without duplicates.
func candidateAddresses(sdp string) []ICEAddress {
	var out []ICEAddress
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimSpace(line)
		v, ok := strings.CutPrefix(line, "a=candidate:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) < 8 || f[1] != "1" {
			continue
		}
		port, err := strconv.Atoi(f[5])
		if err != nil {
			continue
		}
		out = append(out, ICEAddress{Protocol: strings.ToLower(f[2]), IP: f[4], Port: port})
	}
	slices.SortFunc(out, func(a, b ICEAddress) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(out)
}

// privateOnly tells whether no announced address is publicly routable: the
// classic "WebRTC shows nothing" set-up (a container or a NATed host with
// no webrtc.public_ips).
func privateOnly(addrs []ICEAddress) bool {
	for _, a := range addrs {
		ip := net.ParseIP(a.IP)
		if ip != nil && !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !isSharedOrDoc(ip) {
			return false
		}
	}
	return true
}

// isSharedOrDoc covers 100.64/10 (carrier-grade NAT) and the documentation
// ranges, which are not reachable from the internet either.
func isSharedOrDoc(ip net.IP) bool {
	for _, c := range []string{"100.64.0.0/10", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"} {
		_, n, _ := net.ParseCIDR(c)
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
