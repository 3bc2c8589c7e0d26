package sim

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

func TestWithQuirks(t *testing.T) {
	c, err := loadClip(clipH264, ClipFPS)
	if err != nil {
		t.Fatal(err)
	}
	for n := int64(0); n < 100; n++ {
		au := c.aus[n%int64(len(c.aus))]
		q := withQuirks(au, n)
		sei, empty, firstSlice := -1, 0, -1
		for i, nalu := range q {
			switch {
			case len(nalu) == 0:
				empty++
			case nalu[0] == djiSEIHeader:
				sei = i
			case firstSlice < 0 && (h264.NALUType(nalu[0]&0x1f) == h264.NALUTypeIDR || h264.NALUType(nalu[0]&0x1f) == h264.NALUTypeNonIDR):
				firstSlice = i
			}
		}
		if sei < 0 || sei != firstSlice-1 {
			t.Fatalf("frame %d: 0xF5 unit at %d, first slice at %d", n, sei, firstSlice)
		}
		if want := map[bool]int{true: 1, false: 0}[n%emptyNALUEvery == emptyNALUEvery/2]; empty != want {
			t.Fatalf("frame %d: %d empty units, want %d", n, empty, want)
		}
		if len(q) != len(au)+1+empty {
			t.Fatalf("frame %d: quirks changed the frame's own units", n)
		}
	}
	// The empty unit survives AVCC encoding as a zero length.
	avcc, _ := h264.AVCC(withQuirks(c.aus[25], 25)).Marshal()
	if !strings.HasSuffix(string(avcc), "\x00\x00\x00\x00") {
		t.Fatal("no zero-length unit at the end of the AVCC frame")
	}
}

func TestRTMPAppStream(t *testing.T) {
	for in, want := range map[string][2]string{
		"rtmp://h/live/DOCK/165-0-7?secret=s": {"live/DOCK", "165-0-7?secret=s"},
		"rtmp://h:1935/live/x?secret=s":       {"live", "x?secret=s"},
		"rtmp://h/live":                       {"live", ""},
	} {
		u, _ := url.Parse(in)
		if app, stream := rtmpAppStream(u); app != want[0] || stream != want[1] {
			t.Errorf("%s: app %q stream %q, want %q %q", in, app, stream, want[0], want[1])
		}
	}
}

func TestInjectionJSON(t *testing.T) {
	var in Injection
	err := json.Unmarshal([]byte(`{"start_push_code":513006,"start_push_times":2,"reply_delay":"1.5s","media_gap":3}`), &in)
	if err != nil {
		t.Fatal(err)
	}
	if in.StartPushCode != 513006 || in.StartPushTimes != 2 || time.Duration(in.ReplyDelay) != 1500*time.Millisecond ||
		time.Duration(in.MediaGap) != 3*time.Second {
		t.Fatalf("decoded %+v", in)
	}
	f := NewFaults()
	f.Inject(in)
	for i, want := range []bool{true, true, false} {
		if _, ok := f.takeStartCode(); ok != want {
			t.Fatalf("start %d: fail=%v, want %v", i, ok, want)
		}
	}
	if f.delay() != 1500*time.Millisecond {
		t.Fatal("reply delay not set")
	}
	f.Inject(Injection{NoReply: -1})
	if !f.takeNoReply() || !f.takeNoReply() {
		t.Fatal("no_reply -1 must ignore everything")
	}
	f.Inject(Injection{Clear: true})
	if f.takeNoReply() || f.delay() != 0 {
		t.Fatal("clear left faults behind")
	}
}

func TestCameraByID(t *testing.T) {
	m := dock3Model(DefaultDockSN, DefaultDockAircraftSN)
	for id, want := range map[string]int{
		DefaultDockSN + "/165-0-7/normal-0":         0,
		DefaultDockAircraftSN + "/99-0-0/wide-0":    0, // the suffix is a handle, not the lens
		DefaultDockAircraftSN + "/89-0-0/normal-0":  reasonNoCamera,
		"1581FOTHERAIRCRAFT/99-0-0/normal-0":        reasonNoAircraft,
		"":                                          reasonNoAircraft,
		DefaultDockAircraftSN + "/176-0-0/normal-0": 0,
	} {
		if _, got := m.cameraByID(id); got != want {
			t.Errorf("%q: reason %d, want %d", id, got, want)
		}
	}
	if m.code(reasonURLTypeUnsup) != 513013 || rcPlus2Model("a", "b").code(reasonURLTypeUnsup) != 613013 {
		t.Fatal("error code origins: dock 5, Pilot 6")
	}
}

// live_capacity has the field names and nesting of docs/dji-cloud-api.md, "live_capacity".
func TestCapacityShape(t *testing.T) {
	b, _ := json.Marshal(rcPlus2Model("RC", "AC").capacity())
	want := `{"available_video_number":1,"coexist_video_number_max":1,"device_list":[{"sn":"AC","available_video_number":1,"coexist_video_number_max":1,"camera_list":[{"camera_index":"89-0-0","available_video_number":1,"coexist_video_number_max":1,"video_list":[{"video_index":"normal-0","video_type":"wide","switchable_video_types":["normal","wide","zoom","ir"]}]}]}]}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

// TestDock3OSDFragments: the dock's osd fragments have no key in common and
// together carry every key of its osd, as a Dock 3's do.
func TestDock3OSDFragments(t *testing.T) {
	m := dock3Model("D", "A")
	full, _ := m.osd(time.Now())
	seen := map[string]int{}
	for i, f := range m.osdFragments {
		for _, k := range f {
			if j, ok := seen[k]; ok {
				t.Errorf("key %s in fragments %d and %d", k, j, i)
			}
			seen[k] = i
			if _, ok := full[k]; !ok {
				t.Errorf("fragment %d names %s, which the osd lacks", i, k)
			}
		}
	}
	for k := range full {
		if _, ok := seen[k]; !ok {
			t.Errorf("osd key %s is in no fragment", k)
		}
	}
	if rc := rcPlus2Model("R", "A"); rc.osdFragments != nil || rc.lensNamedStatus || rc.forwardsAircraftEvents {
		t.Errorf("the remote controller took the dock's habits")
	}
}
