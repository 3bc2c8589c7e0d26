package gateway

import (
	"testing"

	"github.com/pion/rtp"
)

// FuzzProcess feeds arbitrary NAL units and RTP payloads through codec
// processing: nothing a publisher sends may panic the stream core.
func FuzzProcess(f *testing.F) {
	f.Add([]byte{0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfa, 0x10}, uint8(3), true)
	f.Add([]byte{0x7c, 0x85, 0x88, 0x84, 0x00}, uint8(1), false)
	f.Add([]byte{0x78, 0x00, 0x02, 0x65, 0x88, 0x00, 0x02, 0x41, 0x9a}, uint8(2), false)
	f.Fuzz(func(t *testing.T, data []byte, cut uint8, asRTP bool) {
		p, err := newProcessor(h264Track(true), &ProcessStats{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if asRTP {
			_ = p.setDecoder()
			for i := 0; i < 3; i++ {
				_, _ = p.processRTP(&rtp.Packet{Header: rtp.Header{Marker: i == 2, Timestamp: 1}, Payload: data}, int64(i))
			}
			return
		}
		var au [][]byte
		n := int(cut)%8 + 1
		for i := 0; i < len(data); i += n {
			au = append(au, data[i:min(i+n, len(data))])
		}
		au = append(au, nil, testIDR)
		_, _ = p.process(0, 0, false, au)
	})
}

// FuzzStreamURL checks that any request path splits without panicking and
// that what ValidPath accepts never climbs out with "..".
func FuzzStreamURL(f *testing.F) {
	for _, s := range []string{"/live/a/whep", "/SN/99-0-0/normal-0/index.m3u8", "/a/whep/123", "/", "//..//whip"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		path, _, _ := splitStreamURL(s)
		if ValidPath(path) == nil && (path == ".." || len(path) > 256) {
			t.Fatalf("accepted %q", path)
		}
	})
}
