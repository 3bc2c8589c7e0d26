package control

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// A few MQTT 3.1.1 packets, enough for the benchmark's light in-process
// gateways (OASIS MQTT 3.1.1 §3): CONNECT, PUBLISH at QoS 0, SUBSCRIBE.
// The benchmark cannot afford 1 000 mosquitto_pub processes per second;
// the protocol itself is tested against Mosquitto's clients elsewhere.

// appendRemLen appends the variable-length "remaining length" (§2.2.3).
func appendRemLen(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// wireConnect is CONNECT with a clean session and no keep-alive (§3.1).
func wireConnect(clientID string) []byte {
	body := appendStr(nil, "MQTT")
	body = append(body, 4, 0x02, 0, 0)
	body = appendStr(body, clientID)
	return append(appendRemLen([]byte{0x10}, len(body)), body...)
}

// appendPublish appends a QoS 0 PUBLISH (§3.3).
func appendPublish(b []byte, topic string, payload []byte) []byte {
	b = append(b, 0x30)
	b = appendRemLen(b, 2+len(topic)+len(payload))
	b = appendStr(b, topic)
	return append(b, payload...)
}

// wireSubscribe asks for filter at QoS 0 (§3.8).
func wireSubscribe(id uint16, filter string) []byte {
	body := binary.BigEndian.AppendUint16(nil, id)
	body = appendStr(body, filter)
	body = append(body, 0)
	return append(appendRemLen([]byte{0x82}, len(body)), body...)
}

// readPacket reads one packet: its first byte and its body.
func readPacket(r *bufio.Reader) (byte, []byte, error) {
	h, err := r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for i := 0; ; i++ {
		c, err := r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(c&0x7f) * mul
		if c&0x80 == 0 {
			break
		}
		if i == 3 {
			return 0, nil, fmt.Errorf("bad remaining length")
		}
		mul *= 128
	}
	body := make([]byte, n)
	_, err = io.ReadFull(r, body)
	return h, body, err
}

// parsePublish splits a PUBLISH body; a QoS 1 or 2 delivery has a packet
// id the caller must acknowledge.
func parsePublish(h byte, body []byte) (topic string, payload []byte, id uint16, err error) {
	if len(body) < 2 {
		return "", nil, 0, fmt.Errorf("short PUBLISH")
	}
	tl := int(binary.BigEndian.Uint16(body))
	if len(body) < 2+tl {
		return "", nil, 0, fmt.Errorf("short PUBLISH topic")
	}
	topic, rest := string(body[2:2+tl]), body[2+tl:]
	if (h>>1)&3 > 0 {
		if len(rest) < 2 {
			return "", nil, 0, fmt.Errorf("short PUBLISH id")
		}
		id, rest = binary.BigEndian.Uint16(rest), rest[2:]
	}
	return topic, rest, id, nil
}

// wireDial connects and waits for a successful CONNACK.
func wireDial(addr, clientID string) (net.Conn, *bufio.Reader, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	if _, err := c.Write(wireConnect(clientID)); err != nil {
		c.Close()
		return nil, nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReaderSize(c, 4096)
	h, body, err := readPacket(r)
	if err != nil || h != 0x20 || len(body) != 2 || body[1] != 0 {
		c.Close()
		return nil, nil, fmt.Errorf("CONNACK %#x %v: %v", h, body, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, r, nil
}
