package cascade

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/skyrelay/skyrelay/gb28181/gbid"
	"github.com/skyrelay/skyrelay/gb28181/manscdp"
	"github.com/skyrelay/skyrelay/internal/testpeer"
)

// catalogAnswer collects the Response MESSAGEs of one Catalog query until
// SumNum items came, checking every part repeats the SN and the total.
func catalogAnswer(ctx context.Context, t *testing.T, up *upper, sn string) ([]manscdp.Item, []*sip.Request) {
	t.Helper()
	var items []manscdp.Item
	var reqs []*sip.Request
	sum := -1
	for sum < 0 || len(items) < sum {
		r := up.next(ctx, "Catalog response", isCmd(sip.MESSAGE, "Catalog"))
		m, err := manscdp.Decode(r.Body())
		if err != nil {
			t.Fatal(err)
		}
		if m.SN != sn || !m.Is("Response", "Catalog") {
			t.Fatalf("catalog part SN %q root %s", m.SN, m.Root())
		}
		n := manscdp.Atoi(m.SumNum)
		if sum >= 0 && n != sum {
			t.Fatalf("SumNum changed from %d to %d", sum, n)
		}
		sum = n
		if m.DeviceList != nil && manscdp.Atoi(m.DeviceList.Num) != len(m.DeviceList.Items) {
			t.Fatalf("Num %s, %d items", m.DeviceList.Num, len(m.DeviceList.Items))
		}
		items = append(items, m.Items()...)
		reqs = append(reqs, r)
	}
	return items, reqs
}

// TestCatalog answers a Catalog query with the tree gateway -> DJI devices
// -> cameras, plus pushed streams, split one item per MESSAGE over UDP,
// in GB2312, with ids that are the same for a second gateway instance.
func TestCatalog(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	hub := newHub(t)
	publishClip(t, hub, "live/a")
	publishClip(t, hub, "AC1/99-0-0/normal-0")                         // a DJI camera that is live: listed once, as a camera
	long := "live/" + strings.Repeat("very-long-segment/", 13) + "end" // 250 characters
	publishClip(t, hub, long)
	dji := newFakeDJI()
	up := newUpper(t, "udp", false)
	u := newLower(t, up, hub, func(u *Upstream) { u.Devices, u.Positions = dji, dji })
	up.next(ctx, "REGISTER", isMethod(sip.REGISTER))
	if code := up.query(ctx, "Catalog", "248", lowerID, ""); code != 200 {
		t.Fatalf("Catalog query answered %d", code)
	}
	items, reqs := catalogAnswer(ctx, t, up, "248")
	if len(items) != 7 || len(reqs) != 7 {
		t.Fatalf("%d items in %d messages, want 7 in 7: %+v", len(items), len(reqs), items)
	}
	if !strings.Contains(string(reqs[0].Body()), `encoding="GB2312"`) || !strings.Contains(string(reqs[0].Body()), "\xbb\xfa\xb3\xa1") { // 机场 in GB2312
		t.Fatalf("catalog not in GB2312: %q", reqs[0].Body())
	}
	byID := map[string]manscdp.Item{}
	for _, it := range items {
		if len(it.DeviceID) != 20 || !gbid.Digits(it.DeviceID, 20) {
			t.Fatalf("id %q", it.DeviceID)
		}
		byID[it.DeviceID] = it
	}
	var devices, cameras, streams int
	for _, it := range items {
		switch it.DeviceID[10:13] {
		case typeNVR:
			devices++
			if it.Parental != "1" || it.ParentID != lowerID {
				t.Fatalf("device item %+v", it)
			}
		case typeCamera:
			cameras++
			p, ok := byID[it.ParentID]
			if !ok || p.DeviceID[10:13] != typeNVR || it.Parental != "0" || it.Status != "ON" {
				t.Fatalf("camera item %+v", it)
			}
		case typeIPC:
			streams++
			if it.ParentID != lowerID || !strings.Contains(it.Name, "live/") {
				t.Fatalf("stream item %+v", it)
			}
		}
	}
	if devices != 2 || cameras != 3 || streams != 2 {
		t.Fatalf("%d devices, %d cameras, %d streams", devices, cameras, streams)
	}
	// Ids derive from the path: another instance agrees.
	other := newIDs(lowerID)
	if id := other.id(typeIPC, "live/a"); byID[id].DeviceID != id {
		t.Fatalf("id of live/a not stable: %s", id)
	}
	chs := u.ChannelList()
	if len(chs) != 7 || chs[len(chs)-2].Path != "live/a" || chs[len(chs)-1].Path != long {
		t.Fatalf("channel list %+v", chs)
	}

	// An empty catalog still answers: SumNum 0.
	up2 := newUpper(t, "udp", false)
	newLower(t, up2, newHub(t), func(u *Upstream) { u.Channels = []string{"nothing/**"} })
	up2.next(ctx, "REGISTER", isMethod(sip.REGISTER))
	up2.query(ctx, "Catalog", "9", lowerID, "")
	if items, _ := catalogAnswer(ctx, t, up2, "9"); len(items) != 0 {
		t.Fatalf("items %v", items)
	}
}

// TestQueries answers DeviceInfo and DeviceStatus, refuses unknown ids,
// PTZ and malformed bodies with the right codes, answers commands that
// expect a Response with Result ERROR, and keeps serving afterwards.
func TestQueries(t *testing.T) {
	ctx := testpeer.Context(t, 20*time.Second)
	up, u := registered(ctx, t, "tcp", true)

	if c := up.query(ctx, "DeviceInfo", "1", lowerID, ""); c != 200 {
		t.Fatalf("DeviceInfo: %d", c)
	}
	r := up.next(ctx, "DeviceInfo response", isCmd(sip.MESSAGE, "DeviceInfo"))
	m, _ := manscdp.Decode(r.Body())
	if m.SN != "1" || m.DeviceID != lowerID || m.Channel != "1" || m.Manufacturer != "Skyrelay" {
		t.Fatalf("DeviceInfo %+v", m)
	}
	ch := u.ChannelList()[0].ID
	if c := up.query(ctx, "DeviceStatus", "2", ch, ""); c != 200 {
		t.Fatalf("DeviceStatus: %d", c)
	}
	r = up.next(ctx, "DeviceStatus response", isCmd(sip.MESSAGE, "DeviceStatus"))
	if b := string(r.Body()); !strings.Contains(b, "<Online>ONLINE</Online>") || !strings.Contains(b, "<Result>OK</Result>") || !strings.Contains(b, "<SN>2</SN>") {
		t.Fatalf("DeviceStatus %s", b)
	}
	if c := up.query(ctx, "DeviceInfo", "3", "34020000001329999999", ""); c != 404 {
		t.Fatalf("DeviceInfo of an unknown channel: %d, want 404", c)
	}
	if c := up.query(ctx, "ConfigDownload", "4", lowerID, ""); c != 501 {
		t.Fatalf("unknown query: %d, want 501", c)
	}
	control := func(sn, cmd string) int {
		req := up.request(sip.MESSAGE, lowerID)
		req.AppendHeader(sip.NewHeader("Content-Type", manscdp.ContentType))
		req.SetBody([]byte("<?xml version=\"1.0\"?><Control><CmdType>DeviceControl</CmdType><SN>" + sn + "</SN><DeviceID>" + ch + "</DeviceID>" + cmd + "</Control>"))
		return up.do(ctx, req).StatusCode
	}
	if c := control("5", "<PTZCmd>A50F0101400000F6</PTZCmd>"); c != 501 {
		t.Fatalf("PTZ: %d, want 501", c)
	}
	if c := control("6", "<RecordCmd>Record</RecordCmd>"); c != 200 {
		t.Fatalf("RecordCmd: %d", c)
	}
	r = up.next(ctx, "DeviceControl response", isCmd(sip.MESSAGE, "DeviceControl"))
	if !strings.Contains(string(r.Body()), "<Result>ERROR</Result>") {
		t.Fatalf("RecordCmd answer %s", r.Body())
	}
	for _, body := range []string{"not xml at all <", "<Query><SN>1</SN></Query>", "<Query><CmdType>Catalog</CmdType><SN>x</SN></Query>", ""} {
		req := up.request(sip.MESSAGE, lowerID)
		req.SetBody([]byte(body))
		if c := up.do(ctx, req).StatusCode; c != 400 {
			t.Fatalf("body %q answered %d, want 400", body, c)
		}
	}
	// From someone else: refused.
	req := up.request(sip.MESSAGE, lowerID)
	req.From().Address.User = "44010000002000000099"
	req.SetBody([]byte("<Query><CmdType>Catalog</CmdType><SN>1</SN></Query>"))
	if c := up.do(ctx, req).StatusCode; c != 403 {
		t.Fatalf("stranger answered %d, want 403", c)
	}
	// Still serving.
	if c := up.query(ctx, "Catalog", "77", lowerID, ""); c != 200 {
		t.Fatalf("Catalog after bad input: %d", c)
	}
	if items, _ := catalogAnswer(ctx, t, up, "77"); len(items) != 1 {
		t.Fatalf("items %v", items)
	}
	if u.stats.badRequests.Load() < 5 {
		t.Fatalf("bad requests counted: %d", u.stats.badRequests.Load())
	}
}
