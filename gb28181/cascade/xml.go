package cascade

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/skyrelay/skyrelay/gb28181/manscdp"
)

// Charsets a MANSCDP body is written in. GB/T 28181-2016 §6.10 asks for
// GB2312; an upstream that writes its own requests in another charset gets
// its answers in that one.
const (
	charsetGB2312  = "GB2312"
	charsetGB18030 = "GB18030"
	charsetUTF8    = "UTF-8"
)

// charsetOf names the charset to answer a request body in: UTF-8 when it
// declares UTF-8, GB18030 when it declares that, else GB2312.
func charsetOf(body []byte) string {
	switch strings.ToUpper(strings.TrimSpace(manscdp.Declared(body))) {
	case "UTF-8", "UTF8":
		return charsetUTF8
	case "GB18030":
		return charsetGB18030
	}
	return charsetGB2312
}

// request is what the package reads from an upstream's MANSCDP bodies:
// Query, Control and SUBSCRIBE bodies.
type request struct {
	XMLName  xml.Name
	CmdType  string `xml:"CmdType"`
	SN       string `xml:"SN"`
	DeviceID string `xml:"DeviceID"`
	Interval string `xml:"Interval"`
	// Any holds every child element, so that a Control tells which
	// command it carries (PTZCmd, TeleBoot, RecordCmd...).
	Any []anyElem `xml:",any"`
	// Charset is what the body declared, for the answer.
	Charset string `xml:"-"`
}

type anyElem struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

// has tells whether the body has a child element named name.
func (r *request) has(name string) bool {
	for _, a := range r.Any {
		if strings.EqualFold(a.XMLName.Local, name) {
			return true
		}
	}
	return false
}

// parseRequest reads a MANSCDP request in UTF-8 or GB2312/GBK/GB18030,
// leniently (unclosed empty elements, HTML entities), and checks the
// fields every request needs.
func parseRequest(body []byte) (*request, error) {
	var r request
	if err := manscdp.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	if len(r.Any) > 64 {
		r.Any = r.Any[:64]
	}
	r.CmdType, r.SN, r.DeviceID = strings.TrimSpace(r.CmdType), strings.TrimSpace(r.SN), strings.TrimSpace(r.DeviceID)
	r.Interval = strings.TrimSpace(r.Interval)
	if r.CmdType == "" {
		return nil, errors.New("manscdp: no CmdType")
	}
	if _, err := strconv.ParseUint(r.SN, 10, 32); err != nil {
		return nil, fmt.Errorf("manscdp: SN %q is not a number", r.SN)
	}
	r.Charset = charsetOf(body)
	return &r, nil
}

// item is one catalog entry (GB/T 28181-2016 A.2.6.4 and Annex O). Fields
// left empty are not written, so DEL and OFF notifications carry only the
// id and the event.
type item struct {
	DeviceID     string `xml:"DeviceID"`
	Name         string `xml:"Name,omitempty"`
	Manufacturer string `xml:"Manufacturer,omitempty"`
	Model        string `xml:"Model,omitempty"`
	Owner        string `xml:"Owner,omitempty"`
	CivilCode    string `xml:"CivilCode,omitempty"`
	Address      string `xml:"Address,omitempty"`
	Parental     string `xml:"Parental,omitempty"`
	ParentID     string `xml:"ParentID,omitempty"`
	SafetyWay    string `xml:"SafetyWay,omitempty"`
	RegisterWay  string `xml:"RegisterWay,omitempty"`
	Secrecy      string `xml:"Secrecy,omitempty"`
	Status       string `xml:"Status,omitempty"`
	Longitude    string `xml:"Longitude,omitempty"`
	Latitude     string `xml:"Latitude,omitempty"`
	Event        string `xml:"Event,omitempty"`
}

type deviceList struct {
	Num   int    `xml:"Num,attr"`
	Items []item `xml:"Item"`
}

type alarmStatus struct {
	Num int `xml:"Num,attr"`
}

// message is every MANSCDP body the package writes; unused fields are
// left out.
type message struct {
	XMLName      xml.Name
	CmdType      string       `xml:"CmdType"`
	SN           string       `xml:"SN"`
	DeviceID     string       `xml:"DeviceID"`
	Status       string       `xml:"Status,omitempty"` // OK or ERROR (Keepalive, DeviceStatus)
	SumNum       string       `xml:"SumNum,omitempty"`
	DeviceList   *deviceList  `xml:"DeviceList,omitempty"`
	Result       string       `xml:"Result,omitempty"`
	DeviceName   string       `xml:"DeviceName,omitempty"`
	Manufacturer string       `xml:"Manufacturer,omitempty"`
	Model        string       `xml:"Model,omitempty"`
	Firmware     string       `xml:"Firmware,omitempty"`
	Channel      string       `xml:"Channel,omitempty"`
	Online       string       `xml:"Online,omitempty"`
	Encode       string       `xml:"Encode,omitempty"`
	Record       string       `xml:"Record,omitempty"`
	DeviceTime   string       `xml:"DeviceTime,omitempty"`
	Alarmstatus  *alarmStatus `xml:"Alarmstatus,omitempty"`
	Time         string       `xml:"Time,omitempty"`
	Longitude    string       `xml:"Longitude,omitempty"`
	Latitude     string       `xml:"Latitude,omitempty"`
	Speed        string       `xml:"Speed,omitempty"`
	Direction    string       `xml:"Direction,omitempty"`
	Altitude     string       `xml:"Altitude,omitempty"`
}

// encodeMessage writes m with the XML declaration of charset and in its
// bytes. Characters GBK cannot write become '?' rather than failing the
// whole answer.
func encodeMessage(m *message, charset string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="` + charset + `"?>` + "\r\n")
	enc := xml.NewEncoder(&b)
	enc.Indent("", "")
	if err := enc.Encode(m); err != nil {
		return nil // only on types encoding/xml cannot write: none here
	}
	b.WriteString("\r\n")
	switch charset {
	case charsetUTF8:
		return b.Bytes()
	case charsetGB18030:
		return gbBytes(simplifiedchinese.GB18030.NewEncoder().Bytes(b.Bytes()))
	}
	e := simplifiedchinese.GBK.NewEncoder()
	out, err := e.Bytes(b.Bytes())
	if err != nil {
		// Some character GBK cannot write (an emoji in a name): '?' for
		// each, as x/text's own replacement is a control character XML
		// forbids.
		if out, err = e.Bytes(gbkOnly(b.Bytes())); err != nil {
			return b.Bytes()
		}
	}
	return out
}

func gbBytes(b []byte, err error) []byte {
	if err != nil {
		return nil
	}
	return b
}

// gbkOnly replaces the characters GBK cannot write by '?'.
func gbkOnly(b []byte) []byte {
	out := make([]byte, 0, len(b))
	enc := simplifiedchinese.GBK.NewEncoder()
	for _, r := range string(b) {
		if r >= 0x80 {
			if _, err := enc.String(string(r)); err != nil {
				r = '?'
			}
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

func root(name string) xml.Name { return xml.Name{Local: name} }
