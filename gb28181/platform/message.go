package platform

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/skyrelay/skyrelay/gb28181/gbid"
	"github.com/skyrelay/skyrelay/gb28181/manscdp"
)

// errUnknownDevice is returned for requests to a device that never
// registered or whose registration ended.
var errUnknownDevice = errors.New("gb28181: device is not registered")

// onMessage handles MANSCDP MESSAGEs from devices. Everything well-formed
// is answered 200 — DataTransfer and command types this platform does not
// know included: DJI devices break when answered 400. The one refusal is a
// Keepalive from a device that is not registered: 403 makes it register
// again (after a platform restart, say).
func (p *Platform) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	p.metrics.messages.Add(1)
	from := req.From()
	if from == nil || !validID(from.Address.User) {
		p.respond(tx, req, 400, "Bad Request")
		return
	}
	id := from.Address.User
	m, err := manscdp.Decode(req.Body())
	if err != nil {
		// Unreadable, but answering anything but 200 upsets some devices.
		p.metrics.badMessages.Add(1)
		p.Log.Debug("GB28181 MESSAGE body not understood", "device", id, "error", err)
		p.respond(tx, req, 200, "OK")
		return
	}
	now := p.now()
	cmd := strings.ToLower(m.CmdType)
	p.mu.Lock()
	d := p.devices[id]
	known := d != nil && d.registered && now.Before(d.expires)
	var back DeviceEvent
	if known {
		if !d.touch(req.Source(), strings.ToUpper(req.Transport()), now, false) {
			p.metrics.addressRefused.Add(1)
			p.Log.Warn("GB28181 MESSAGE from another IP than the registration: address kept until the device registers from there",
				"device", id, "registered", d.source, "remote", req.Source())
		}
		if cmd == "keepalive" {
			d.lastKeepAt = now
		}
		back = p.markOnline(d, cmd)
	}
	p.mu.Unlock()
	if back.Online {
		p.Log.Info("GB28181 device back online", "device", id, "remote", req.Source())
		p.deviceEvent(back)
	}
	if !known && cmd == "keepalive" {
		p.respond(tx, req, 403, "Forbidden")
		return
	}
	// Counted before the answer: a device (or a test) that sees the 200
	// finds the keepalive in the metrics.
	if known && cmd == "keepalive" {
		p.metrics.keepalives.Add(1)
	}
	p.respond(tx, req, 200, "OK")
	if !known {
		return
	}
	switch {
	case m.Is("Response", "Catalog"):
		p.onCatalog(d, m)
	case m.Is("Response", "DeviceInfo"):
		p.mu.Lock()
		d.info = DeviceDetails{Name: m.DeviceName, Manufacturer: m.Manufacturer, Model: m.Model, Firmware: m.Firmware, ChannelCount: manscdp.Atoi(m.Channel)}
		p.mu.Unlock()
	}
}

// onCatalog merges one part of a (possibly multi-part) Catalog answer
// (GB/T 28181-2016 §A.2.6.4: SumNum items in all, DeviceList Num in this
// part).
func (p *Platform) onCatalog(d *device, m *manscdp.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d.catalogSN != m.SN || d.catalog == nil {
		d.catalogSN, d.catalog = m.SN, map[string]Channel{}
	}
	d.catalogSum = manscdp.Atoi(m.SumNum)
	for _, it := range m.Items() {
		id := strings.TrimSpace(it.DeviceID)
		if !validID(id) || len(d.catalog) >= maxChannels {
			continue
		}
		c := Channel{ChannelID: id, Name: strings.TrimSpace(it.Name), Manufacturer: strings.TrimSpace(it.Manufacturer),
			Model: strings.TrimSpace(it.Model), Status: strings.TrimSpace(it.Status), ParentID: strings.TrimSpace(it.ParentID)}
		d.catalog[id] = c
		if len(d.channels) < maxChannels || d.channels[id] != (Channel{}) {
			d.channels[id] = c // visible at once, even before the last part
		}
	}
	if len(d.catalog) >= d.catalogSum {
		d.channels, d.catalog = d.catalog, nil
		p.Log.Info("GB28181 catalog", "device", d.id, "channels", len(d.channels))
	}
}

// onNotify answers NOTIFYs (catalog and alarm subscriptions) with 200.
func (p *Platform) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	p.respond(tx, req, 200, "OK")
}

// deviceTarget is where requests to a device go: the address and transport
// its last REGISTER or keepalive came from.
type deviceTarget struct {
	id, source, transport string
}

func (p *Platform) target(id string) (deviceTarget, error) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.devices[id]
	if d == nil || !d.registered || !now.Before(d.expires) {
		return deviceTarget{}, fmt.Errorf("%w: %s", errUnknownDevice, id)
	}
	return deviceTarget{id: id, source: d.source, transport: d.transport}, nil
}

// domainOf is the SIP domain of a GB id: its first 10 digits (GB/T
// 28181-2016 Annex D), or the platform's domain for ids of another shape.
func (p *Platform) domainOf(id string) string {
	if len(id) == 20 && gbid.Digits(id[:10], 10) {
		return id[:10]
	}
	return p.Domain
}

// newRequest builds a request to user (the device or one of its channels)
// at the device's NAT address, over the transport it uses.
func (p *Platform) newRequest(method sip.RequestMethod, t deviceTarget, user string) (*sip.Request, error) {
	host, port, err := sip.ParseAddr(t.source)
	if err != nil {
		return nil, fmt.Errorf("gb28181: device address %q: %w", t.source, err)
	}
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: user, Host: host, Port: port})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: p.ServerID, Host: p.Domain}}
	from.Params = sip.NewParams()
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: p.domainOf(t.id)}})
	req.AppendHeader(sip.NewHeader("User-Agent", "Skyrelay"))
	req.SetTransport(t.transport)
	req.SetDestination(t.source)
	return req, nil
}

// query sends a MANSCDP Query MESSAGE and waits for the device's 200; the
// answer itself comes later as a MESSAGE of the device's.
func (p *Platform) query(ctx context.Context, id, cmdType string) error {
	t, err := p.target(id)
	if err != nil {
		return err
	}
	req, err := p.newRequest(sip.MESSAGE, t, id)
	if err != nil {
		return err
	}
	req.AppendHeader(sip.NewHeader("Content-Type", manscdp.ContentType))
	req.SetBody(manscdp.Query(cmdType, p.sn.Add(1), id))
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		return err
	}
	if !res.IsSuccess() {
		return fmt.Errorf("device answered %d %s", res.StatusCode, res.Reason)
	}
	return nil
}

// Query asks a registered device again for its catalog ("Catalog") or
// details ("DeviceInfo"); the answer updates Devices when it comes.
func (p *Platform) Query(ctx context.Context, deviceID, cmdType string) error {
	if cmdType != "Catalog" && cmdType != "DeviceInfo" {
		return fmt.Errorf("gb28181: query %q is not supported", cmdType)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	return p.query(ctx, deviceID, cmdType)
}
