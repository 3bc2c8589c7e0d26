package sim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// The device side of MQTT is small: CONNECT, SUBSCRIBE, PUBLISH at QoS 0/1,
// acknowledging what the broker sends, PINGREQ. paho.golang speaks only
// MQTT 5, so this client encodes both 3.1.1 and 5 with mochi's packets
// package; one code path serves both versions, and a dropped connection
// (a failure to inject) is just closing the socket.

// mqttConfig says how to reach the broker.
type mqttConfig struct {
	broker    string // tcp://host:port (also mqtt://), tls:// (also ssl://, mqtts://)
	version   byte   // 4 (3.1.1) or 5
	clientID  string
	username  string
	password  string
	keepAlive time.Duration
}

// mqttConn is one connected MQTT session.
type mqttConn struct {
	conn      net.Conn
	version   byte
	keepAlive time.Duration
	onMsg     func(topic string, payload []byte)

	wmu    sync.Mutex
	nextID uint16

	subMu   sync.Mutex
	subWait map[uint16]chan []byte // packet id → suback reason codes

	done chan struct{}
	err  error // why the connection ended; read after done
}

// dialMQTT connects, sends CONNECT and waits for a successful CONNACK. onMsg
// is called from the reading goroutine for every PUBLISH received; it must
// not block for long.
func dialMQTT(ctx context.Context, cfg mqttConfig, onMsg func(topic string, payload []byte)) (*mqttConn, error) {
	u, err := url.Parse(cfg.broker)
	if err != nil {
		return nil, fmt.Errorf("broker URL: %w", err)
	}
	if cfg.version != 4 && cfg.version != 5 {
		return nil, fmt.Errorf("MQTT version %d: want 4 (3.1.1) or 5", cfg.version)
	}
	var nc net.Conn
	switch u.Scheme {
	case "tcp", "mqtt":
		nc, err = (&net.Dialer{}).DialContext(ctx, "tcp", hostPort(u, "1883"))
	case "tls", "ssl", "mqtts":
		nc, err = (&tls.Dialer{Config: &tls.Config{ServerName: u.Hostname()}}).DialContext(ctx, "tcp", hostPort(u, "8883"))
	default:
		return nil, fmt.Errorf("broker URL scheme %q: want tcp:// or tls://", u.Scheme)
	}
	if err != nil {
		return nil, err
	}
	c := &mqttConn{conn: nc, version: cfg.version, keepAlive: cfg.keepAlive, onMsg: onMsg,
		subWait: map[uint16]chan []byte{}, done: make(chan struct{})}
	if cfg.username == "" && u.User != nil { // tcp://user:pass@host
		cfg.username = u.User.Username()
		cfg.password, _ = u.User.Password()
	}

	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	connect := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: cfg.version,
		Connect: packets.ConnectParams{
			ProtocolName:     []byte("MQTT"),
			ClientIdentifier: cfg.clientID,
			Clean:            true,
			Keepalive:        uint16(cfg.keepAlive / time.Second),
			UsernameFlag:     cfg.username != "",
			Username:         []byte(cfg.username),
			PasswordFlag:     cfg.password != "",
			Password:         []byte(cfg.password),
		},
	}
	if err := c.write(connect.ConnectEncode); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReader(nc)
	pk, body, err := c.readPacket(br)
	if err == nil && pk.FixedHeader.Type != packets.Connack {
		err = fmt.Errorf("expected CONNACK, got packet type %d", pk.FixedHeader.Type)
	}
	if err == nil {
		err = pk.ConnackDecode(body)
	}
	if err == nil && pk.ReasonCode != 0 {
		err = fmt.Errorf("broker refused the connection: reason code 0x%02x", pk.ReasonCode)
	}
	if err != nil {
		nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	go c.readLoop(br)
	if cfg.keepAlive > 0 {
		go c.pingLoop(cfg.keepAlive)
	}
	return c, nil
}

func hostPort(u *url.URL, defPort string) string {
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), defPort)
	}
	return u.Host
}

// write encodes one packet and sends it whole.
func (c *mqttConn) write(encode func(*bytes.Buffer) error) error {
	var buf bytes.Buffer
	if err := encode(&buf); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.conn.Write(buf.Bytes())
	return err
}

func (c *mqttConn) packetID() uint16 {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	return c.nextID
}

func (c *mqttConn) readPacket(br *bufio.Reader) (packets.Packet, []byte, error) {
	pk := packets.Packet{ProtocolVersion: c.version}
	hb, err := br.ReadByte()
	if err != nil {
		return pk, nil, err
	}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		return pk, nil, err
	}
	n, _, err := packets.DecodeLength(br)
	if err != nil {
		return pk, nil, err
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return pk, nil, err
	}
	return pk, body, nil
}

func (c *mqttConn) readLoop(br *bufio.Reader) {
	err := c.readPackets(br)
	c.conn.Close()
	c.err = err
	close(c.done)
}

func (c *mqttConn) readPackets(br *bufio.Reader) error {
	for {
		if c.keepAlive > 0 {
			// PINGRESPs come every keepAlive/2: a longer silence is a dead link.
			_ = c.conn.SetReadDeadline(time.Now().Add(c.keepAlive * 3 / 2))
		}
		pk, body, err := c.readPacket(br)
		if err != nil {
			return err
		}
		switch pk.FixedHeader.Type {
		case packets.Publish:
			if err := pk.PublishDecode(body); err != nil {
				return err
			}
			if err := c.ack(pk); err != nil {
				return err
			}
			c.onMsg(pk.TopicName, pk.Payload)
		case packets.Pubrel: // second half of an inbound QoS 2 exchange
			if err := pk.PubrelDecode(body); err != nil {
				return err
			}
			comp := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubcomp}, PacketID: pk.PacketID, ProtocolVersion: c.version}
			if err := c.write(comp.PubcompEncode); err != nil {
				return err
			}
		case packets.Suback:
			if err := pk.SubackDecode(body); err != nil {
				return err
			}
			c.subMu.Lock()
			ch := c.subWait[pk.PacketID]
			delete(c.subWait, pk.PacketID)
			c.subMu.Unlock()
			if ch != nil {
				ch <- pk.ReasonCodes
			}
		case packets.Disconnect:
			_ = pk.DisconnectDecode(body)
			return fmt.Errorf("broker sent DISCONNECT (reason 0x%02x)", pk.ReasonCode)
		case packets.Puback, packets.Pingresp, packets.Unsuback:
			// Publishes are fire-and-forget on a clean session: nothing to resend.
		default:
			return fmt.Errorf("unexpected packet type %d", pk.FixedHeader.Type)
		}
	}
}

func (c *mqttConn) ack(pk packets.Packet) error {
	var typ byte
	switch pk.FixedHeader.Qos {
	case 1:
		typ = packets.Puback
	case 2:
		typ = packets.Pubrec
	default:
		return nil
	}
	a := packets.Packet{FixedHeader: packets.FixedHeader{Type: typ}, PacketID: pk.PacketID, ProtocolVersion: c.version}
	if typ == packets.Puback {
		return c.write(a.PubackEncode)
	}
	return c.write(a.PubrecEncode)
}

func (c *mqttConn) pingLoop(every time.Duration) {
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			p := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}, ProtocolVersion: c.version}
			if err := c.write(p.PingreqEncode); err != nil {
				c.conn.Close()
				return
			}
		}
	}
}

// subscribe subscribes to filters at QoS 1 and waits for the SUBACK.
func (c *mqttConn) subscribe(ctx context.Context, filters ...string) error {
	id := c.packetID()
	ch := make(chan []byte, 1)
	c.subMu.Lock()
	c.subWait[id] = ch
	c.subMu.Unlock()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: id, ProtocolVersion: c.version}
	for _, f := range filters {
		pk.Filters = append(pk.Filters, packets.Subscription{Filter: f, Qos: 1})
	}
	if err := c.write(pk.SubscribeEncode); err != nil {
		return err
	}
	select {
	case codes := <-ch:
		for i, code := range codes {
			if code >= 0x80 {
				return fmt.Errorf("subscription to %q refused: reason code 0x%02x", filters[min(i, len(filters)-1)], code)
			}
		}
		return nil
	case <-c.done:
		return fmt.Errorf("connection lost before SUBACK: %w", c.err)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		return errors.New("no SUBACK within 10 s")
	}
}

// publish sends a message at QoS 0 or 1 without waiting for the PUBACK.
func (c *mqttConn) publish(topic string, payload []byte, qos byte) error {
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Publish, Qos: qos},
		TopicName:       topic,
		Payload:         payload,
		ProtocolVersion: c.version,
	}
	if qos > 0 {
		pk.PacketID = c.packetID()
	}
	return c.write(pk.PublishEncode)
}

// disconnect ends the session politely.
func (c *mqttConn) disconnect() {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ProtocolVersion: c.version}
	_ = c.write(pk.DisconnectEncode)
	c.conn.Close()
	<-c.done
}

// drop closes the socket without DISCONNECT, like a device losing its link.
func (c *mqttConn) drop() {
	c.conn.Close()
	<-c.done
}
