package gateway

import (
	"bytes"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

func TestClassifyH264(t *testing.T) {
	for _, tc := range []struct {
		name string
		nalu []byte
		want naluKind
	}{
		{"IDR", testIDR, naluKey},
		{"P slice", testP, naluKeep},
		{"SPS", testSPS, naluParams},
		{"PPS", testPPS, naluParams},
		{"SEI passes through", []byte{0x06, 0x05, 0x01, 0x00, 0x80}, naluKeep},
		{"AUD is dropped", []byte{0x09, 0xf0}, naluDrop},
		{"filler is dropped", []byte{0x0c, 0xff, 0xff}, naluDrop},
		{"empty (M30, SRS#3750)", []byte{}, naluBad},
		{"Dock 3 custom SEI 0xF5 has the forbidden bit", []byte{0xf5, 0x01, 0x02}, naluBad},
		{"type 0 is unspecified (M350 invalid NALU)", []byte{0x00, 0x11}, naluBad},
		{"STAP-A never belongs in an AU", []byte{0x18, 0x00}, naluBad},
	} {
		if got := classifyH264(tc.nalu); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestClassifyH265(t *testing.T) {
	for _, tc := range []struct {
		name string
		nalu []byte
		want naluKind
	}{
		{"IDR_W_RADL", []byte{0x26, 0x01, 0xaf}, naluKey},
		{"CRA", []byte{0x2a, 0x01, 0xaf}, naluKey},
		{"TRAIL_R", []byte{0x02, 0x01, 0xd0}, naluKeep},
		{"VPS", []byte{0x40, 0x01, 0x0c}, naluParams},
		{"AUD", []byte{0x46, 0x01, 0x50}, naluDrop},
		{"one byte", []byte{0x26}, naluBad},
		{"forbidden bit", []byte{0xa6, 0x01}, naluBad},
		{"fragmentation unit", []byte{0x62, 0x01}, naluBad},
	} {
		if got := classifyH265(tc.nalu); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestProcessH264Quirks(t *testing.T) {
	sei := []byte{0x06, 0x05, 0x01, 0x00, 0x80}
	djiSEI := []byte{0xf5, 0x01, 0x02, 0x03}
	aud := []byte{0x09, 0xf0}
	for _, tc := range []struct {
		name         string
		in           [][]byte
		wantNALUs    [][]byte // nil: the unit is skipped
		wantKey      bool
		skipped      uint64
		empty        uint64
		paramsInBand bool
	}{
		{name: "keyframe gets SPS and PPS prepended", in: [][]byte{testIDR}, wantNALUs: [][]byte{testSPS, testPPS, testIDR}, wantKey: true},
		{name: "in-band parameter sets are not duplicated", in: [][]byte{aud, testSPS, testPPS, testIDR}, wantNALUs: [][]byte{testSPS, testPPS, testIDR}, wantKey: true},
		{name: "AUD and empty NAL units dropped", in: [][]byte{aud, {}, testP, {}}, wantNALUs: [][]byte{testP}, empty: 2},
		{name: "Dock 3 SEI skipped, normal SEI kept", in: [][]byte{djiSEI, sei, testP}, wantNALUs: [][]byte{sei, testP}, skipped: 1},
		{name: "a unit of nothing but junk is skipped", in: [][]byte{{}, djiSEI, aud}, skipped: 1, empty: 1},
		{name: "an unparseable SPS is ignored and counted", in: [][]byte{{0x67, 0xff}, testP}, wantNALUs: [][]byte{testP}, skipped: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stats := &ProcessStats{}
			p, err := newProcessor(h264Track(true), stats, 0)
			if err != nil {
				t.Fatal(err)
			}
			p.keySeen = true
			u, err := p.process(9000, 0, false, tc.in)
			if tc.wantNALUs == nil {
				if err == nil {
					t.Fatalf("unit not skipped: %d NALUs", len(u.Payload))
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if u.Key != tc.wantKey || !equalNALUs(u.Payload, tc.wantNALUs) {
					t.Fatalf("key %v payload %x, want key %v payload %x", u.Key, u.Payload, tc.wantKey, tc.wantNALUs)
				}
				p.packetise(u)
				if len(u.RTP) == 0 || u.RTP[len(u.RTP)-1].Marker != true || u.RTP[0].Timestamp != 9000 {
					t.Fatalf("RTP not made once per unit: %d packets", len(u.RTP))
				}
			}
			if stats.Skipped.Load() != tc.skipped || stats.Empty.Load() != tc.empty {
				t.Fatalf("skipped %d empty %d, want %d %d", stats.Skipped.Load(), stats.Empty.Load(), tc.skipped, tc.empty)
			}
		})
	}
}

func TestProcessWaitsForParameterSets(t *testing.T) {
	tr := h264Track(false) // RTSP source whose SDP had no sprop-parameter-sets
	p, _ := newProcessor(tr, &ProcessStats{}, 0)
	if _, err := p.process(0, 0, false, [][]byte{testIDR}); err == nil {
		t.Fatal("keyframe without parameter sets delivered")
	}
	if _, err := p.process(3000, 0, false, [][]byte{testP}); err == nil {
		t.Fatal("P-frame before the first decodable keyframe delivered")
	}
	u, err := p.process(6000, 0, false, [][]byte{testSPS, testPPS, testIDR})
	if err != nil || !u.Key {
		t.Fatalf("in-band parameter sets did not make a keyframe: %v", err)
	}
	sps, pps := tr.Format.(*format.H264).SafeParams()
	if !bytes.Equal(sps, testSPS) || !bytes.Equal(pps, testPPS) {
		t.Fatal("track format not updated with in-band parameter sets")
	}
}

func TestTimestampsGoingBackwardsAreRepaired(t *testing.T) {
	stats := &ProcessStats{}
	p, _ := newProcessor(h264Track(true), stats, 0)
	var last int64 = -1
	for _, pts := range []int64{0, 3000, 6000, 4000, 4000, 12000} {
		nalu := testP
		if pts == 0 {
			nalu = testIDR
		}
		u, err := p.process(pts, 0, false, [][]byte{nalu})
		if err != nil {
			t.Fatal(err)
		}
		if u.PTS <= last {
			t.Fatalf("pts %d after %d", u.PTS, last)
		}
		last = u.PTS
	}
	if stats.Repaired.Load() != 2 {
		t.Fatalf("repaired %d, want 2", stats.Repaired.Load())
	}
}

func TestBFramesDetectedFromDTS(t *testing.T) {
	p, _ := newProcessor(h264Track(true), &ProcessStats{}, 0)
	_, _ = p.process(6000, 0, true, [][]byte{testIDR})
	if !p.bframes.Load() {
		t.Fatal("pts != dts did not reveal B-frames")
	}
}

func equalNALUs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
