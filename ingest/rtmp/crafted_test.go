package rtmp

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/h264conf"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// crafted is a publisher whose every tag the test writes, to send what DJI
// devices send and clean encoders do not. It uses gortmplib's client for
// the handshake and chunking, and builds the FLV tag bodies itself.
type crafted struct {
	t   testing.TB
	c   *gortmplib.Client
	aus [][][]byte // h264-small.mp4's access units (25 fps)
	sps []byte
	pps []byte
}

const craftedFPS = 25

func newCrafted(t testing.TB, url string) *crafted {
	t.Helper()
	aus := elementary(t, testpeer.Clip(t, testpeer.ClipH264Small), false)
	c := &crafted{t: t, c: dialPublish(t, url), aus: aus}
	for _, n := range aus[0] {
		switch n[0] & 0x1f {
		case 7:
			c.sps = n
		case 8:
			c.pps = n
		}
	}
	if c.sps == nil || c.pps == nil {
		t.Fatal("the clip's first access unit has no SPS and PPS")
	}
	return c
}

func (c *crafted) write(m message.Message) {
	c.t.Helper()
	if err := c.c.Write(m); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// meta sends onMetaData the way ffmpeg does.
func (c *crafted) meta(obj amf0.Object) {
	c.write(&message.DataAMF0{ChunkStreamID: 4, MessageStreamID: 0x1000000,
		Payload: []interface{}{"@setDataFrame", "onMetaData", obj}})
}

// avcConfig sends the AVC sequence header.
func (c *crafted) avcConfig() {
	buf, err := h264conf.Conf{SPS: c.sps, PPS: c.pps}.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	c.write(&message.Video{ChunkStreamID: message.VideoChunkStreamID, MessageStreamID: 0x1000000,
		Codec: message.CodecH264, IsKeyFrame: true, Type: message.VideoTypeConfig, Payload: buf})
}

// video sends one video tag with a payload built by the test.
func (c *crafted) video(dts time.Duration, key bool, payload []byte) {
	c.write(&message.Video{ChunkStreamID: message.VideoChunkStreamID, MessageStreamID: 0x1000000,
		Codec: message.CodecH264, IsKeyFrame: key, Type: message.VideoTypeAU, DTS: dts, Payload: payload})
}

// audio sends one legacy audio tag.
func (c *crafted) audio(dts time.Duration, codec uint8, aacType message.AudioAACType, payload []byte) {
	c.write(&message.Audio{ChunkStreamID: message.AudioChunkStreamID, MessageStreamID: 0x1000000,
		Codec: codec, Rate: message.Rate44100, Depth: message.Depth16, IsStereo: true,
		AACType: aacType, DTS: dts, Payload: payload})
}

// frames sends n access units of the clip in real time (speed 1) or
// faster, letting each pass through tweak (which may add, change or drop
// NAL units) and calling between (if set) before each frame.
func (c *crafted) frames(n int, speed float64, tweak func(i int, au [][]byte) (dts time.Duration, payload []byte), between func(i int, dts time.Duration)) {
	start := time.Now()
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(float64(time.Duration(i)*time.Second/craftedFPS) / speed))
		time.Sleep(time.Until(at)) // pacing a live source, not synchronisation
		au := c.aus[i%len(c.aus)]
		dts := time.Duration(i) * time.Second / craftedFPS
		payload := avcc(au...)
		if tweak != nil {
			dts, payload = tweak(i, au)
		}
		if between != nil {
			between(i, dts)
		}
		if payload != nil {
			c.video(dts, isKey(au), payload)
		}
	}
}

// avcc joins NAL units with 4-byte length prefixes; an empty unit gets a
// zero length, which gortmplib's own writer refuses to produce.
func avcc(nalus ...[]byte) []byte {
	var b []byte
	for _, n := range nalus {
		b = binary.BigEndian.AppendUint32(b, uint32(len(n)))
		b = append(b, n...)
	}
	return b
}

func isKey(au [][]byte) bool {
	for _, n := range au {
		if n[0]&0x1f == 5 {
			return true
		}
	}
	return false
}

// withBefore puts extra in front of the first slice of an access unit.
func withBefore(au [][]byte, extra []byte) [][]byte {
	out := make([][]byte, 0, len(au)+1)
	added := false
	for _, n := range au {
		if t := n[0] & 0x1f; !added && (t == 1 || t == 5) {
			out = append(out, extra)
			added = true
		}
		out = append(out, n)
	}
	return out
}
