package cascade

import (
	"bytes"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/skyrelay/skyrelay/gateway"
	"github.com/skyrelay/skyrelay/gb28181/ps"
)

// memWriter keeps the packets a sender writes.
type memWriter struct{ pkts [][]byte }

func (w *memWriter) write(p [][]byte) (int, error) {
	n := 0
	for _, x := range p {
		w.pkts = append(w.pkts, append([]byte(nil), x...))
		n += len(x)
	}
	return n, nil
}
func (w *memWriter) close() {}

func tracks(t testing.TB, fs ...format.Format) []*gateway.Track {
	var out []*gateway.Track
	for i, f := range fs {
		tr, err := gateway.TrackFor(f)
		if err != nil {
			t.Fatal(err)
		}
		tr.Index = i
		out = append(out, tr)
	}
	return out
}

// TestSenderCodecs muxes H.264, H.265, AAC and G.711 and reads the packets
// back with the PS demuxer: waits for a key frame, one timestamp per frame,
// marker on the last packet of a frame, audio PTS in 90 kHz, Opus left out.
func TestSenderCodecs(t *testing.T) {
	aac := &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 2}
	big := bytes.Repeat([]byte{0x55}, 5000) // four packets with the PS headers
	for _, tc := range []struct {
		name      string
		tracks    []*gateway.Track
		key, next [][]byte
		codec     ps.Codec
		audio     ps.Codec
	}{
		{"h264+aac", tracks(t, &format.H264{PayloadTyp: 96}, &format.MPEG4Audio{PayloadTyp: 97, Config: aac, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}),
			[][]byte{{0x67, 0x64, 0x00, 0x1F}, {0x68, 0xEB}, append([]byte{0x65, 0x88}, big...)}, [][]byte{{0x41, 0x9A, 9}}, ps.CodecH264, ps.CodecAAC},
		{"h265+g711", tracks(t, &format.H265{PayloadTyp: 96}, &format.G711{PayloadTyp: 8, SampleRate: 8000, ChannelCount: 1}),
			[][]byte{{0x40, 1, 0x0C}, {0x42, 1, 1}, {0x44, 1, 0xC1}, append([]byte{0x26, 1, 0xAF}, big...)}, [][]byte{{0x02, 1, 0xD0, 9}}, ps.CodecH265, ps.CodecG711A},
		{"h264+opus", tracks(t, &format.H264{PayloadTyp: 96}, &format.Opus{PayloadTyp: 111, ChannelCount: 2}),
			[][]byte{append([]byte{0x65, 0x88}, big...)}, [][]byte{{0x41, 0x9A, 9}}, ps.CodecH264, ps.CodecUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &memWriter{}
			s := newSender(tc.tracks, 0x0BEBF239, 96, w, &counters{}, time.Now())
			if s.mux.Audio != tc.audio {
				t.Fatalf("audio codec %v, want %v", s.mux.Audio, tc.audio)
			}
			v, a := tc.tracks[0], tc.tracks[1]
			send := func(tr *gateway.Track, pts int64, key bool, p [][]byte) {
				if err := s.handle(gateway.Frame{Track: tr, Unit: &gateway.Unit{PTS: pts, Key: key, Payload: p}}); err != nil {
					t.Fatal(err)
				}
			}
			send(v, 0, false, tc.next) // before any key frame: dropped
			send(a, 0, false, [][]byte{{1, 2, 3}})
			if len(w.pkts) != 0 {
				t.Fatalf("%d packets before the key frame", len(w.pkts))
			}
			send(v, 3600, true, tc.key)
			send(a, int64(a.ClockRate())/10, false, [][]byte{{1, 2, 3, 4}})
			send(v, 7200, false, tc.next)
			var vids []*ps.VideoAU
			var auds []int64
			d := ps.Demuxer{OnVideo: func(au *ps.VideoAU) { vids = append(vids, au.Clone()) }, OnAudio: func(f *ps.AudioFrame) { auds = append(auds, f.PTS) }}
			tsOf := map[uint32]int{}
			for i, p := range w.pkts {
				h, payload, err := ps.ParseRTP(p)
				if err != nil || h.SSRC != 0x0BEBF239 || h.PayloadType != 96 || len(payload) > rtpPayloadMax || h.Seq != uint16(i) {
					t.Fatalf("packet %d: %+v %v", i, h, err)
				}
				tsOf[h.Timestamp]++
				d.Write(payload)
			}
			d.Flush()
			if len(vids) != 2 || !vids[0].Key || vids[0].PTS != 3600 || vids[1].PTS != 7200 || vids[0].Codec != tc.codec {
				t.Fatalf("video %+v", vids)
			}
			if tsOf[3600] != 4 {
				t.Fatalf("key frame in %d packets, want 4 sharing one timestamp", tsOf[3600])
			}
			if tc.audio != ps.CodecUnknown && (len(auds) != 1 || auds[0] != 9000) {
				t.Fatalf("audio PTS %v, want [9000]", auds)
			}
			last, _, _ := ps.ParseRTP(w.pkts[len(w.pkts)-1])
			if !last.Marker {
				t.Fatal("no marker on the last packet")
			}
		})
	}
}
