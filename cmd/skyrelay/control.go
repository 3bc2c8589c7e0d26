package main

import (
	"fmt"

	"github.com/skyrelay/skyrelay/conf"
	"github.com/skyrelay/skyrelay/control"
	"github.com/skyrelay/skyrelay/gateway/web"
)

// cameras lists every DJI camera the plane knows for the index page.
func cameras(p *control.Plane) []web.Camera {
	var out []web.Camera
	for _, d := range p.Devices() {
		for _, c := range d.Cameras {
			out = append(out, web.Camera{VideoID: c.VideoID, Gateway: d.SN, Online: d.Online})
		}
	}
	return out
}

// controlConfig turns the mqtt: and control: sections into the control
// plane's own configuration, and checks it with the plane's own rules so
// that -check refuses what start-up would.
func controlConfig(c conf.Config) (control.MQTTConfig, control.Config, error) {
	m := control.MQTTConfig{
		Broker:   c.MQTT.Broker,
		Username: c.MQTT.Username,
		Password: string(c.MQTT.Password),
		ClientID: c.MQTT.ClientID,
		Embedded: control.EmbeddedBroker{
			Listen:                 c.MQTT.Embedded.Listen,
			WSListen:               c.MQTT.Embedded.WSListen,
			AllowAnonymousLoopback: true,
			AllowAnonymous:         c.MQTT.Embedded.AllowAnonymous,
		},
	}
	for _, u := range c.MQTT.Embedded.Users {
		m.Embedded.Users = append(m.Embedded.Users, control.BrokerUser{Username: u.User, Password: string(u.Password), Gateways: u.Gateways})
	}
	k := c.Control
	p := control.Config{
		OfflineAfter:      k.OfflineAfter,
		ReplyTimeout:      k.ReplyTimeout,
		ReadyTimeout:      k.ReadyTimeout,
		IdleStopAfter:     k.IdleStopAfter,
		DefaultProtocol:   k.DefaultProtocol,
		StartRetries:      k.StartRetries,
		StartRetryBackoff: k.StartRetryBackoff,
		AppID:             k.AppID,
		AppKey:            string(k.AppKey),
		AppLicense:        string(k.AppLicense),
		NTPServerHost:     k.NTPServerHost,
		NTPServerPort:     k.NTPServerPort,
		OrganizationID:    k.OrganizationID,
		OrganizationName:  k.Organization,
		BindingCode:       string(k.BindingCode),
		AutoBind:          k.AutoBind,
	}
	if err := m.Validate(); err != nil {
		return m, p, fmt.Errorf("config: mqtt.%w", err)
	}
	if err := p.Validate(); err != nil {
		return m, p, fmt.Errorf("config: control.%w", err)
	}
	return m, p, nil
}
