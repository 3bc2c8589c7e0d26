package cascade

import (
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gb28181/ps"
)

// FuzzParseRequest: any MESSAGE or SUBSCRIBE body is read or refused,
// never a panic; what is read has a CmdType and a numeric SN.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0" encoding="GB2312"?><Query><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>1</DeviceID></Query>`))
	f.Add([]byte(`<Control><CmdType>DeviceControl</CmdType><SN>2</SN><PTZCmd>A50F</PTZCmd></Control>`))
	f.Add([]byte(`<Query><CmdType>MobilePosition</CmdType><SN>3</SN><Interval>5</Interval></Query>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRequest(b)
		if err != nil {
			return
		}
		if r.CmdType == "" || r.SN == "" || r.Charset == "" {
			t.Fatalf("%+v", r)
		}
	})
}

// FuzzReadOffer: any INVITE body gets an offer or a 4xx code.
func FuzzReadOffer(f *testing.F) {
	f.Add([]byte("v=0\r\no=1 0 0 IN IP4 127.0.0.1\r\ns=Play\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 30000 RTP/AVP 96\r\na=rtpmap:96 PS/90000\r\ny=0200012345\r\n"))
	f.Add([]byte("v=0\r\ns=Play\r\nc=IN IP4 1.2.3.4\r\nm=video 1 TCP/RTP/AVP 96\r\na=setup:active\r\ny=9999999999\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, code := readOffer(b, func() string { return "0000000001" })
		switch {
		case code == 0 && (o == nil || o.dst == "" || o.video == nil):
			t.Fatalf("offer %+v", o)
		case code != 0 && (code < 400 || code > 499 || reasons[code] == ""):
			t.Fatalf("code %d", code)
		}
	})
}

// FuzzSender: any access unit is muxed into PS over RTP (or skipped)
// without a panic, and every packet it writes is a well-formed RTP packet
// no larger than the limit; the PS demuxer reads it without a panic.
func FuzzSender(f *testing.F) {
	f.Add([]byte{0x65, 0x88, 1, 2, 3}, []byte{1, 2}, true, int64(3600))
	f.Add([]byte{0x41, 0x9A, 0, 0, 1, 0xBA}, []byte{}, false, int64(-5))
	tr := tracks(f, &format.H264{PayloadTyp: 96}, &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1})
	f.Fuzz(func(t *testing.T, nal, audio []byte, key bool, pts int64) {
		w := &memWriter{}
		s := newSender(tr, 1, 96, w, &counters{}, time.Now())
		units := [][]byte{nal}
		if len(nal) > 3 {
			units = [][]byte{nal[:len(nal)/2], nal[len(nal)/2:]}
		}
		_ = s.handle(gateway.Frame{Track: tr[0], Unit: &gateway.Unit{PTS: pts, Key: key, Payload: units}})
		_ = s.handle(gateway.Frame{Track: tr[1], Unit: &gateway.Unit{PTS: pts, Payload: [][]byte{audio}}})
		_ = s.handle(gateway.Frame{Track: tr[0], Unit: &gateway.Unit{PTS: pts + 3600, Payload: [][]byte{nal}}})
		var d ps.Demuxer
		for _, p := range w.pkts {
			h, payload, err := ps.ParseRTP(p)
			if err != nil || h.SSRC != 1 || len(payload) > rtpPayloadMax {
				t.Fatalf("packet %x: %v", p, err)
			}
			d.Write(payload)
		}
		d.Flush()
	})
}
