package manscdp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// ContentType is the Content-Type of MANSCDP bodies, spelt the way devices
// expect it (some compare it byte for byte).
const ContentType = "Application/MANSCDP+xml"

// MaxBody bounds a body Decode reads.
const MaxBody = 256 << 10

// maxItems bounds the catalog items kept from one body.
const maxItems = 4096

// ErrTooLarge is returned for bodies over MaxBody.
var ErrTooLarge = errors.New("manscdp: body too large")

// Message holds the fields of the messages Skyrelay reads and writes. The
// root element (Notify, Response, Query, Control) is in XMLName.Local.
type Message struct {
	XMLName  xml.Name
	CmdType  string `xml:"CmdType"`
	SN       string `xml:"SN"`
	DeviceID string `xml:"DeviceID"`
	Status   string `xml:"Status,omitempty"`
	Result   string `xml:"Result,omitempty"`
	// Catalog
	SumNum     string      `xml:"SumNum,omitempty"`
	DeviceList *DeviceList `xml:"DeviceList,omitempty"`
	// DeviceInfo
	DeviceName   string `xml:"DeviceName,omitempty"`
	Manufacturer string `xml:"Manufacturer,omitempty"`
	Model        string `xml:"Model,omitempty"`
	Firmware     string `xml:"Firmware,omitempty"`
	Channel      string `xml:"Channel,omitempty"`
}

// DeviceList is the item list of a Catalog answer; Num is the count in
// this part of a multi-part answer.
type DeviceList struct {
	Num   string `xml:"Num,attr"`
	Items []Item `xml:"Item"`
}

// Item is one catalog entry (a channel, or a device of a lower platform).
type Item struct {
	DeviceID     string `xml:"DeviceID"`
	Name         string `xml:"Name"`
	Manufacturer string `xml:"Manufacturer,omitempty"`
	Model        string `xml:"Model,omitempty"`
	Owner        string `xml:"Owner,omitempty"`
	CivilCode    string `xml:"CivilCode,omitempty"`
	Address      string `xml:"Address,omitempty"`
	Parental     string `xml:"Parental,omitempty"`
	ParentID     string `xml:"ParentID,omitempty"`
	RegisterWay  string `xml:"RegisterWay,omitempty"`
	Secrecy      string `xml:"Secrecy,omitempty"`
	Status       string `xml:"Status,omitempty"`
}

// Root is the root element's name: Notify, Response, Query or Control.
func (m *Message) Root() string { return m.XMLName.Local }

// Is tells whether the message has this root and CmdType, in any case.
func (m *Message) Is(root, cmdType string) bool {
	return strings.EqualFold(m.XMLName.Local, root) && strings.EqualFold(m.CmdType, cmdType)
}

// Items is the catalog list, empty when there is none.
func (m *Message) Items() []Item {
	if m.DeviceList == nil {
		return nil
	}
	return m.DeviceList.Items
}

var encodingDecl = regexp.MustCompile(`(?i)^\s*<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']`)

// isGB tells whether a declared charset is one GB18030 decodes.
func isGB(charset string) bool {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "gb2312", "gbk", "gb18030", "x-gbk", "cp936", "windows-936", "euc-cn":
		return true
	}
	return false
}

// Declared is the charset a body's XML declaration names, "" when it
// names none.
func Declared(body []byte) string {
	if m := encodingDecl.FindSubmatch(body); m != nil {
		return string(m[1])
	}
	return ""
}

// ToUTF8 turns a MANSCDP body into UTF-8: GB2312/GBK/GB18030 when it says
// so, and also when it claims UTF-8 (or nothing) but is not valid UTF-8,
// which devices do.
func ToUTF8(body []byte) ([]byte, error) {
	if !isGB(Declared(body)) && utf8.Valid(body) {
		return body, nil
	}
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(body)
	if err != nil {
		return nil, fmt.Errorf("manscdp: body is neither UTF-8 nor GB18030: %w", err)
	}
	return out, nil
}

// Unmarshal reads a MANSCDP body into v liberally: any GB charset or
// UTF-8, HTML entities and unclosed tags tolerated. Bodies over MaxBody
// are refused with ErrTooLarge.
func Unmarshal(body []byte, v any) error {
	if len(body) > MaxBody {
		return ErrTooLarge
	}
	u, err := ToUTF8(body)
	if err != nil {
		return err
	}
	dec := xml.NewDecoder(bytes.NewReader(u))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	// The bytes are UTF-8 by now whatever the declaration says.
	dec.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("manscdp: %w", err)
	}
	return nil
}

// Decode reads a MANSCDP body as Unmarshal does, trims the fields and
// checks there is a root element. Catalog items beyond 4096 are dropped.
func Decode(body []byte) (*Message, error) {
	var m Message
	if err := Unmarshal(body, &m); err != nil {
		return nil, err
	}
	if m.XMLName.Local == "" {
		return nil, errors.New("manscdp: no root element")
	}
	// encoding/xml reads a prefixed name loosely: "<A:0>" gives the root
	// "0", which no XML writer can write back (found by FuzzDecode).
	if !xmlName(m.XMLName.Local) {
		return nil, fmt.Errorf("manscdp: root element %q is not an XML name", m.XMLName.Local)
	}
	for _, f := range []*string{&m.CmdType, &m.SN, &m.DeviceID, &m.Status, &m.Result, &m.SumNum,
		&m.DeviceName, &m.Manufacturer, &m.Model, &m.Firmware, &m.Channel} {
		*f = strings.TrimSpace(*f)
	}
	if m.DeviceList != nil {
		if len(m.DeviceList.Items) > maxItems {
			m.DeviceList.Items = m.DeviceList.Items[:maxItems]
		}
		for i := range m.DeviceList.Items {
			it := &m.DeviceList.Items[i]
			for _, f := range []*string{&it.DeviceID, &it.Name, &it.Manufacturer, &it.Model, &it.Status, &it.ParentID} {
				*f = strings.TrimSpace(*f)
			}
		}
	}
	return &m, nil
}

// Atoi reads a count such as SumNum, 0 when absent or garbled.
func Atoi(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// xmlName tells whether s can name an element: a letter or underscore,
// then letters, digits, '.', '-' and '_' (XML 1.0 §2.3, without the
// colon, which namespaces take).
func xmlName(s string) bool {
	for i, r := range s {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && (r == '.' || r == '-' || unicode.IsDigit(r)):
		default:
			return false
		}
	}
	return s != ""
}
