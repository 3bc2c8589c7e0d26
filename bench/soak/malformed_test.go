package soak

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/skyrelay/skyrelay/internal/gwproc"
)

// target is one listening port and the malformed inputs it gets.
type target struct {
	name    string
	network string // "tcp", "udp" or "http" (requests through net/http)
	addr    string
	inputs  []func(r *rand.Rand) []byte // raw payloads for tcp and udp
	reqs    []func(r *rand.Rand) *http.Request
	sent    atomic.Int64
}

func junk(r *rand.Rand, lo, hi int) []byte {
	b := make([]byte, lo+r.IntN(hi-lo))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func fixed(s string) func(*rand.Rand) []byte { return func(*rand.Rand) []byte { return []byte(s) } }

func random(lo, hi int) func(*rand.Rand) []byte {
	return func(r *rand.Rand) []byte { return junk(r, lo, hi) }
}

// prefixed is a valid-looking start followed by random bytes: what gets
// a parser past its first check.
func prefixed(head []byte, lo, hi int) func(*rand.Rand) []byte {
	return func(r *rand.Rand) []byte { return append(append([]byte(nil), head...), junk(r, lo, hi)...) }
}

// targets lists every port the gateway listens on with inputs a
// well-behaved peer never sends, gbPort being the GB28181 media port of
// the soak's one GB session (a UDP socket and a TCP listener).
func targets(g *gwproc.Process, gbPort int) []*target {
	at := func(p int) string { return fmt.Sprintf("127.0.0.1:%d", p) }
	sipBad := []func(*rand.Rand) []byte{
		random(1, 1500),
		fixed("REGISTER sip:x SIP/2.0\r\nVia: garbage\r\nCSeq: x\r\n\r\n"),
		fixed("INVITE sip:34020000001320000001@127.0.0.1 SIP/2.0\r\nContent-Length: 5000\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n"),
		fixed("MESSAGE sip:a@b SIP/2.0\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 MESSAGE\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK1\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: 20\r\n\r\n<?xml <Notify><CmdTy"),
		prefixed([]byte("SIP/2.0 200 OK\r\n"), 0, 400),
	}
	rtspBad := []func(*rand.Rand) []byte{
		random(1, 2000),
		fixed("GARBAGE\r\n\r\n"),
		fixed("DESCRIBE rtsp://127.0.0.1/soak/s00 RTSP/1.0\r\nCSeq: abc\r\nContent-Length: -5\r\n\r\n"),
		fixed("SETUP rtsp://127.0.0.1/soak/s00/trackID=99 RTSP/1.0\r\nCSeq: 1\r\nTransport: bogus;;;=\r\n\r\n"),
		fixed("ANNOUNCE rtsp://127.0.0.1/soak/junk RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: 30\r\n\r\nv=0\r\nm=video 0 RTP/AVP 96\r\na=rtpm"),
		prefixed([]byte{'$', 0, 0xff, 0xff}, 0, 200),
	}
	httpBad := []func(*rand.Rand) []byte{
		random(1, 2000),
		fixed("GET / HTTP/9.9\r\n\r\n"),
		fixed("POST /soak/s01/whep HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\nv=0"),
		prefixed([]byte("GET /soak/s01/index.m3u8 HTTP/1.1\r\nHost: x\r\nX: "), 8000, 9000),
	}
	mqttBad := []func(*rand.Rand) []byte{
		random(1, 500),
		fixed("\x10\xff\xff\xff\xff\x7f"),                                   // CONNECT with a 5-byte remaining length
		fixed("\x10\x0c\x00\x04MQTX\x04\x02\x00\x3c\x00\x00"),               // wrong protocol name
		fixed("\x30\x05\x00\x10ab"),                                         // PUBLISH before CONNECT, topic length past the end
		prefixed([]byte("\x10\x10\x00\x04MQTT\x05\x02\x00\x3c\xff"), 0, 40), // MQTT 5 properties garbage
	}
	stun := []byte{0x00, 0x01, 0x00, 0x50, 0x21, 0x12, 0xa4, 0x42} // binding request, bad length
	dtls := []byte{0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00}
	webrtcBad := []func(*rand.Rand) []byte{random(1, 1200), prefixed(stun, 12, 200), prefixed(dtls, 0, 300)}
	gbBad := []func(*rand.Rand) []byte{
		random(1, 1400),
		prefixed([]byte{0x80, 0x60, 0x00, 0x01}, 8, 1200),                                        // RTP, random SSRC and payload
		prefixed([]byte{0x80, 0x60, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0xba}, 0, 1200), // a PS pack header, then garbage
	}
	sdp := "application/sdp"
	req := func(method, path, ctype string, body func(*rand.Rand) []byte) func(*rand.Rand) *http.Request {
		return func(r *rand.Rand) *http.Request {
			q, _ := http.NewRequest(method, g.URL(path), bytes.NewReader(body(r)))
			if ctype != "" {
				q.Header.Set("Content-Type", ctype)
			}
			return q
		}
	}
	noBody := fixed("")
	return []*target{
		{name: "rtmp", network: "tcp", addr: at(g.RTMP), inputs: []func(*rand.Rand) []byte{
			random(1, 4000),
			prefixed([]byte{0x06}, 1536, 1537),           // an unknown RTMP version
			prefixed([]byte{0x03}, 1536+3072, 1536+3500), // C0C1 then garbage where C2 and chunks go
		}},
		{name: "rtsp", network: "tcp", addr: at(g.RTSP), inputs: rtspBad},
		{name: "rtsp rtp udp", network: "udp", addr: at(g.RTPUDP), inputs: []func(*rand.Rand) []byte{random(1, 1400), prefixed([]byte{0x80, 0x60}, 0, 1200)}},
		{name: "rtsp rtcp udp", network: "udp", addr: at(g.RTPUDP + 1), inputs: []func(*rand.Rand) []byte{random(1, 600), prefixed([]byte{0x81, 0xc8, 0xff, 0xff}, 0, 100)}},
		{name: "http raw", network: "tcp", addr: at(g.HTTP), inputs: httpBad},
		{name: "http", network: "http", reqs: []func(*rand.Rand) *http.Request{
			req("POST", "/soak/s01/whep", sdp, random(1, 3000)),
			req("POST", "/soak/s01/whep", sdp, prefixed([]byte("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:"), 0, 300)),
			req("POST", "/soak/junk/whip", sdp, random(1, 3000)),
			req("POST", "/soak/junk/whip", "text/plain", fixed("v=0")),
			req("PATCH", "/soak/s01/whep/nonexistent", "application/trickle-ice-sdpfrag", random(1, 500)),
			req("DELETE", "/soak/s01/whep/%ff%00", "", noBody),
			req("GET", "/soak/s01/index.m3u8?_HLS_msn=-1&_HLS_part=zz", "", noBody),
			req("GET", "/soak/s01/index.m3u8?_HLS_msn=99999999&_HLS_part=0", "", noBody),
			req("GET", "/soak/s01/../../etc/passwd", "", noBody),
			req("GET", "/api/v1/streams/%ff%fe", "", noBody),
			req("POST", "/api/v1/streams/soak%2Fs01", "application/json", fixed(`{"x":`)),
		}},
		{name: "sip udp", network: "udp", addr: at(g.SIP), inputs: sipBad},
		{name: "sip tcp", network: "tcp", addr: at(g.SIP), inputs: sipBad},
		{name: "mqtt", network: "tcp", addr: at(g.MQTT), inputs: mqttBad},
		{name: "mqtt websocket", network: "tcp", addr: at(g.MQTTWS), inputs: append(httpBad,
			fixed("GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))},
		{name: "gb28181 media udp", network: "udp", addr: at(gbPort), inputs: gbBad},
		{name: "gb28181 media tcp", network: "tcp", addr: at(gbPort), inputs: append(gbBad,
			prefixed([]byte{0x05, 0xdc, 0x80, 0x60}, 100, 1400))}, // an RFC 4571 length longer than what follows
		{name: "webrtc udp", network: "udp", addr: at(g.WebRTC), inputs: webrtcBad},
		{name: "webrtc tcp", network: "tcp", addr: at(g.WebRTC), inputs: []func(*rand.Rand) []byte{
			random(1, 1200), prefixed([]byte{0x00, 0x60}, 96, 97), prefixed([]byte{0xff, 0xff}, 0, 500)}},
	}
}

// feed sends one malformed input to t every interval until ctx ends.
func (t *target) feed(ctx context.Context, every time.Duration, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0xbad))
	cl := &http.Client{Timeout: 3 * time.Second}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if t.network == "http" {
			q := t.reqs[r.IntN(len(t.reqs))](r).WithContext(ctx)
			if resp, err := cl.Do(q); err == nil {
				resp.Body.Close()
			}
		} else {
			t.send(ctx, t.inputs[r.IntN(len(t.inputs))](r))
		}
		t.sent.Add(1)
	}
}

// send writes b on a new connection (or datagram), reads whatever comes
// back for a moment, and hangs up.
func (t *target) send(ctx context.Context, b []byte) {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, t.network, t.addr)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(b)
	buf := make([]byte, 4096)
	_, _ = c.Read(buf)
}

func targetsSummary(ts []*target) string {
	var parts []string
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s %d", t.name, t.sent.Load()))
	}
	return strings.Join(parts, ", ")
}
