package sim

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/handshake"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/gortmplib/pkg/rawmessage"
)

// rtmpPublisher is an RTMP publishing connection that implements
// gortmplib.Conn, so gortmplib.Writer can send the stream header on it.
//
// Why not gortmplib.Client: it rejects any AMF command with fewer than three
// values, and ffmpeg's RTMP server (-listen 1, the third-party peer of this
// package's tests) answers FCPublish with a bare "onFCPublish". A device's
// client must not be that strict, so the command exchange here reads
// commands leniently; the handshake, chunking and message encoding are
// still gortmplib's, and the commands are the same that gortmplib.Client
// sends, so gortmplib's ServerConn accepts them too.
type rtmpPublisher struct {
	nconn net.Conn
	bc    *bytecounter.ReadWriter
	w     *message.Writer
	r     *rawmessage.Reader
}

// rtmpStreamID is the message stream that createStream gives a publisher; the
// value is how gortmplib writes stream 1.
const rtmpStreamID = 0x1000000

// dialRTMPPublish connects to u and publishes its stream (whose name keeps
// the URL's query, where push secrets live).
func dialRTMPPublish(ctx context.Context, u *url.URL) (*rtmpPublisher, error) {
	var nc net.Conn
	var err error
	if u.Scheme == "rtmps" {
		nc, err = (&tls.Dialer{Config: &tls.Config{ServerName: u.Hostname()}}).DialContext(ctx, "tcp", u.Host)
	} else {
		nc, err = (&net.Dialer{}).DialContext(ctx, "tcp", u.Host)
	}
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	p := &rtmpPublisher{nconn: nc, bc: bytecounter.NewReadWriter(nc)}
	if err := p.publish(u); err != nil {
		nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return p, nil
}

func (p *rtmpPublisher) publish(u *url.URL) error {
	if _, _, err := handshake.DoClient(p.bc, false, false); err != nil {
		return fmt.Errorf("RTMP handshake: %w", err)
	}
	p.w = message.NewWriter(p.bc, p.bc.Writer, false)
	p.r = rawmessage.NewReader(p.bc, p.bc.Reader, func(n uint32) error {
		return p.w.Write(&message.Acknowledge{Value: n})
	})
	app, stream := rtmpAppStream(u)
	tcURL := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/" + app}).String()
	steps := []message.Message{
		&message.SetWindowAckSize{Value: 2500000},
		&message.SetPeerBandwidth{Value: 2500000, Type: 2},
		&message.SetChunkSize{Value: 65536},
		&message.CommandAMF0{ChunkStreamID: 3, Name: "connect", CommandID: 1, Arguments: []any{amf0.Object{
			{Key: "app", Value: app},
			{Key: "flashVer", Value: "LNX 9,0,124,2"},
			{Key: "tcUrl", Value: tcURL},
			{Key: "type", Value: "nonprivate"},
			{Key: "objectEncoding", Value: float64(0)},
		}}},
	}
	for _, m := range steps {
		if err := p.w.Write(m); err != nil {
			return err
		}
	}
	if _, err := p.waitResult(1, "_result"); err != nil {
		return fmt.Errorf("RTMP connect: %w", err)
	}
	for _, m := range []message.Message{
		&message.CommandAMF0{ChunkStreamID: 3, Name: "releaseStream", CommandID: 2, Arguments: []any{nil, stream}},
		&message.CommandAMF0{ChunkStreamID: 3, Name: "FCPublish", CommandID: 3, Arguments: []any{nil, stream}},
		&message.CommandAMF0{ChunkStreamID: 3, Name: "createStream", CommandID: 4, Arguments: []any{nil}},
	} {
		if err := p.w.Write(m); err != nil {
			return err
		}
	}
	if _, err := p.waitResult(4, "_result"); err != nil {
		return fmt.Errorf("RTMP createStream: %w", err)
	}
	err := p.w.Write(&message.CommandAMF0{ChunkStreamID: 4, MessageStreamID: rtmpStreamID, Name: "publish",
		CommandID: 5, Arguments: []any{nil, stream, "live"}})
	if err != nil {
		return err
	}
	if _, err := p.waitResult(5, "onStatus"); err != nil {
		return fmt.Errorf("RTMP publish: %w", err)
	}
	return nil
}

// waitResult reads until the answer to command id arrives (onStatus answers
// with id 0 on some servers) and checks that it is a success.
func (p *rtmpPublisher) waitResult(id int, want string) ([]any, error) {
	for {
		raw, err := p.r.Read()
		if err != nil {
			return nil, err
		}
		switch message.Type(raw.Type) {
		case message.TypeSetChunkSize:
			if len(raw.Body) >= 4 {
				if err := p.r.SetChunkSize(binary.BigEndian.Uint32(raw.Body) & 0x7fffffff); err != nil {
					return nil, err
				}
			}
			continue
		case message.TypeSetWindowAckSize:
			if len(raw.Body) >= 4 {
				p.r.SetWindowAckSize(binary.BigEndian.Uint32(raw.Body))
			}
			continue
		case message.TypeCommandAMF0:
		default:
			continue // user control, bandwidth, data: nothing a publisher needs
		}
		vals, err := amf0.Unmarshal(raw.Body)
		if err != nil || len(vals) < 2 {
			continue // e.g. ffmpeg's bare "onFCPublish"
		}
		name, _ := vals[0].(string)
		cid, _ := vals[1].(float64)
		switch {
		case want == "onStatus" && name == "onStatus": // some servers answer with id 0
		case int(cid) == id && (name == want || name == "_error"):
		default:
			continue
		}
		if name == "_error" || (want == "onStatus" && statusLevel(vals) == "error") {
			return nil, fmt.Errorf("server refused: %v", vals[2:])
		}
		return vals[2:], nil
	}
}

func statusLevel(vals []any) string {
	for _, v := range vals[2:] {
		if o, ok := v.(amf0.Object); ok {
			if s, ok := o.GetString("level"); ok {
				return s
			}
		}
	}
	return ""
}

// rtmpAppStream splits an RTMP URL into application and stream name the way
// gortmplib's client and server do: /app/stream, or /a/b/stream with a
// two-part app; the query stays on the stream name.
func rtmpAppStream(u *url.URL) (app, stream string) {
	nu := *u
	nu.ForceQuery = false
	segs := strings.Split(nu.RequestURI(), "/")
	switch {
	case len(segs) == 2:
		app = segs[1]
	case len(segs) == 3:
		app, stream = segs[1], segs[2]
	case len(segs) > 3:
		app, stream = strings.Join(segs[1:3], "/"), strings.Join(segs[3:], "/")
	}
	return app, stream
}

// Close closes the connection.
func (p *rtmpPublisher) Close() { p.nconn.Close() }

// BytesReceived implements gortmplib.Conn.
func (p *rtmpPublisher) BytesReceived() uint64 { return p.bc.Reader.Count() }

// BytesSent implements gortmplib.Conn.
func (p *rtmpPublisher) BytesSent() uint64 { return p.bc.Writer.Count() }

// Read implements gortmplib.Conn; a publisher never reads after publishing.
func (p *rtmpPublisher) Read() (message.Message, error) {
	return nil, fmt.Errorf("rtmpPublisher does not read")
}

// Write implements gortmplib.Conn, with a deadline so a stalled server is
// noticed.
func (p *rtmpPublisher) Write(m message.Message) error {
	_ = p.nconn.SetWriteDeadline(time.Now().Add(rtmpWriteTimeout))
	return p.w.Write(m)
}
