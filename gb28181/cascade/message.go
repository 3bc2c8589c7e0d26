package cascade

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Control commands that get no Response MESSAGE (GB/T 28181-2016 §9.3.1):
// PTZ and the like. Skyrelay cannot steer a DJI gimbal over GB28181, so
// they are refused with 501 Not Implemented, the SIP answer for "the
// server does not support what the request needs".
var silentControls = []string{"PTZCmd", "TeleBoot", "IFameCmd", "DragZoomIn", "DragZoomOut"}

// catalog is what this upstream may see now.
func (u *Upstream) catalog() []channel {
	return buildCatalog(u.gwID, u.ids, u.Channels, u.Devices, u.Hub)
}

// Channels lists the channels offered to this upstream (the API).
func (u *Upstream) ChannelList() []Channel {
	cat := u.catalog()
	out := make([]Channel, 0, len(cat))
	for _, c := range cat {
		out = append(out, Channel{ID: c.ID, Path: c.Path, Name: c.Name})
	}
	return out
}

func findChannel(cat []channel, id string) (channel, bool) {
	for _, c := range cat {
		if c.ID == id {
			return c, true
		}
	}
	return channel{}, false
}

// onMessage answers the upstream's MANSCDP requests: 200 (or an error
// code) at once, then the answer as a MESSAGE of ours with the same SN
// (GB/T 28181-2016 §9.5).
func (u *Upstream) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	r, err := parseRequest(req.Body())
	if err != nil {
		u.stats.badRequests.Add(1)
		u.Log.Debug("GB28181 upstream MESSAGE not understood", "error", err)
		u.respond(tx, req, 400, "Bad Request")
		return
	}
	root := strings.ToLower(r.XMLName.Local)
	cmd := strings.ToLower(r.CmdType)
	switch {
	case root == "response" || root == "notify" && cmd == "keepalive":
		u.answerOK(req, tx) // answers to nothing we asked, or the upstream's own keepalive
	case root == "query":
		u.onQuery(req, tx, r)
	case root == "control":
		u.onControl(req, tx, r)
	default:
		u.respond(tx, req, 501, "Not Implemented")
	}
}

func (u *Upstream) onQuery(req *sip.Request, tx sip.ServerTransaction, r *request) {
	cat := u.catalog()
	var reply func(ctx context.Context)
	switch strings.ToLower(r.CmdType) {
	case "catalog":
		u.stats.catalogs.Add(1)
		reply = func(ctx context.Context) { u.sendCatalog(ctx, r, cat) }
	case "deviceinfo", "devicestatus":
		answer := u.deviceInfo
		if strings.EqualFold(r.CmdType, "devicestatus") {
			answer = u.deviceStatus
		}
		m, ok := answer(r, cat)
		if !ok {
			u.respond(tx, req, 404, "Not Found")
			return
		}
		reply = func(ctx context.Context) { u.reply(ctx, m, r.Charset) }
	case "recordinfo":
		// No recordings are offered upstream: an empty list (Annex N).
		m := &message{XMLName: root("Response"), CmdType: "RecordInfo", SN: r.SN, DeviceID: r.DeviceID, SumNum: "0"}
		reply = func(ctx context.Context) { u.reply(ctx, m, r.Charset) }
	default:
		u.respond(tx, req, 501, "Not Implemented")
		return
	}
	u.answerOK(req, tx)
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		reply(u.ctx)
	}()
}

// reply sends one Response MESSAGE.
func (u *Upstream) reply(ctx context.Context, m *message, charset string) {
	code, err := u.sendMessage(ctx, encodeMessage(m, charset))
	if err != nil || code != 200 {
		u.Log.Debug("GB28181 upstream answer not taken", "cmd", m.CmdType, "code", code, "error", err)
	}
}

// sendCatalog answers a Catalog query in MESSAGEs of CatalogGroup items,
// each sent after the previous one was answered (Annex N), all with the
// query's SN and the total in SumNum.
func (u *Upstream) sendCatalog(ctx context.Context, r *request, cat []channel) {
	items := make([]item, len(cat))
	for i, c := range cat {
		items[i] = u.fit(c.toItem(u.Positions))
	}
	for _, body := range catalogBodies("Response", r.SN, u.gwID, items, u.CatalogGroup, r.Charset) {
		code, err := u.sendMessage(ctx, body)
		if err != nil || code != 200 {
			u.Log.Info("GB28181 upstream catalog answer cut short", "code", code, "error", err)
			return
		}
	}
}

// udpNameMax bounds names over UDP: sipgo refuses UDP messages over 1300
// bytes, and a catalog MESSAGE with one item of long names would pass it.
const udpNameMax = 64

// fit shortens an item's Name and Address for SIP over UDP: a long path
// keeps its start and its end around "…".
func (u *Upstream) fit(it item) item {
	if u.Transport != "udp" {
		return it
	}
	it.Name = shorten(it.Name, udpNameMax)
	it.Address = shorten(it.Address, udpNameMax)
	return it
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n/2-1]) + "…" + string(r[len(r)-n/2:])
}

// catalogBodies splits items over bodies of at most group items each.
// SumNum is the total, DeviceList Num the items in that body; no items
// gives one body with SumNum 0.
func catalogBodies(rootName, sn, gwID string, items []item, group int, charset string) [][]byte {
	var out [][]byte
	for i := 0; i == 0 || i < len(items); i += group {
		part := items[i:min(i+group, len(items))]
		m := &message{XMLName: root(rootName), CmdType: "Catalog", SN: sn, DeviceID: gwID, SumNum: strconv.Itoa(len(items))}
		if len(part) > 0 {
			m.DeviceList = &deviceList{Num: len(part), Items: part}
		}
		out = append(out, encodeMessage(m, charset))
	}
	return out
}

// deviceInfo answers for the gateway itself or one of its channels.
func (u *Upstream) deviceInfo(r *request, cat []channel) (*message, bool) {
	m := &message{XMLName: root("Response"), CmdType: "DeviceInfo", SN: r.SN, DeviceID: r.DeviceID, Result: "OK",
		Manufacturer: "Skyrelay", Model: "Skyrelay", Firmware: "1"}
	if r.DeviceID == u.gwID || r.DeviceID == "" {
		m.DeviceID, m.DeviceName, m.Channel = u.gwID, "Skyrelay", strconv.Itoa(len(cat))
		return m, true
	}
	c, ok := findChannel(cat, r.DeviceID)
	if !ok {
		return nil, false
	}
	m.DeviceName, m.Channel = u.fit(item{Name: c.Name}).Name, "1"
	if c.Kind != chanStream {
		m.Manufacturer, m.Model = "DJI", c.Model
	}
	return m, true
}

// deviceStatus answers DeviceStatus (A.2.6.5): online and working.
func (u *Upstream) deviceStatus(r *request, cat []channel) (*message, bool) {
	m := &message{XMLName: root("Response"), CmdType: "DeviceStatus", SN: r.SN, DeviceID: r.DeviceID, Result: "OK",
		Online: "ONLINE", Status: "OK", Encode: "ON", Record: "OFF", DeviceTime: localTime(time.Now()), Alarmstatus: &alarmStatus{}}
	if r.DeviceID == u.gwID || r.DeviceID == "" {
		m.DeviceID = u.gwID
		return m, true
	}
	c, ok := findChannel(cat, r.DeviceID)
	if !ok {
		return nil, false
	}
	if !c.Online {
		m.Online, m.Encode = "OFFLINE", "OFF"
	}
	return m, true
}

// onControl refuses device control: PTZ and its kind with 501, the
// commands that expect a Response with 200 and Result ERROR.
func (u *Upstream) onControl(req *sip.Request, tx sip.ServerTransaction, r *request) {
	for _, c := range silentControls {
		if r.has(c) {
			u.respond(tx, req, 501, "Not Implemented")
			return
		}
	}
	u.answerOK(req, tx)
	m := &message{XMLName: root("Response"), CmdType: r.CmdType, SN: r.SN, DeviceID: r.DeviceID, Result: "ERROR"}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		u.reply(u.ctx, m, r.Charset)
	}()
}

// localTime writes a MANSCDP time: local, without a zone (wvp and others
// replace anything else by "now").
func localTime(t time.Time) string { return t.Format("2006-01-02T15:04:05") }

// onInfo answers MANSRTSP playback control: live video has none.
func (u *Upstream) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	u.respond(tx, req, 501, "Not Implemented")
}
