package rtmp

import (
	"testing"

	"github.com/bluenviron/gortmplib/pkg/amf0"
)

// FuzzParseMetadata: any AMF0 data message a publisher sends is read as
// a track hint or ignored; a hint always comes with ok.
func FuzzParseMetadata(f *testing.F) {
	for _, d := range []amf0.Data{
		{"@setDataFrame", "onMetaData", amf0.ECMAArray{{Key: "videocodecid", Value: float64(7)}, {Key: "audiocodecid", Value: float64(10)}}},
		{"onMetaData", amf0.Object{{Key: "videocodecid", Value: "hvc1"}, {Key: "hasAudio", Value: true}}},
		{"onMetaData", amf0.Object{{Key: "duration", Value: float64(0)}}},
		{"onTextData", "x"},
	} {
		b, err := d.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := amf0.Unmarshal(b)
		if err != nil {
			return
		}
		m, ok := parseMetadata(d)
		if m != nil && !ok {
			t.Fatal("a hint from a message that is not onMetaData")
		}
	})
}
