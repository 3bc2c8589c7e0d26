package platform

// A small MANSCDP (GB/T 28181-2016 Annex A) reader and writer for what the
// platform sends and reads: Keepalive, Catalog, DeviceInfo. It stands in
// for gb28181/manscdp until that package is there.

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// manscdpType is the Content-Type of MANSCDP bodies, spelt the way devices
// expect it (some compare it byte for byte).
const manscdpType = "Application/MANSCDP+xml"

// maxBody bounds a MANSCDP body the platform parses.
const maxBody = 256 << 10

// mansMessage holds the fields of the messages the platform reads; the root
// element (Notify, Response, Query, Control) is in XMLName.
type mansMessage struct {
	XMLName  xml.Name
	CmdType  string `xml:"CmdType"`
	SN       string `xml:"SN"`
	DeviceID string `xml:"DeviceID"`
	Status   string `xml:"Status"`
	Result   string `xml:"Result"`
	// Catalog
	SumNum     string `xml:"SumNum"`
	DeviceList struct {
		Num   string     `xml:"Num,attr"`
		Items []mansItem `xml:"Item"`
	} `xml:"DeviceList"`
	// DeviceInfo
	DeviceName   string `xml:"DeviceName"`
	Manufacturer string `xml:"Manufacturer"`
	Model        string `xml:"Model"`
	Firmware     string `xml:"Firmware"`
	Channel      string `xml:"Channel"`
}

type mansItem struct {
	DeviceID     string `xml:"DeviceID"`
	Name         string `xml:"Name"`
	Manufacturer string `xml:"Manufacturer"`
	Model        string `xml:"Model"`
	Status       string `xml:"Status"`
	ParentID     string `xml:"ParentID"`
}

var encodingDecl = regexp.MustCompile(`(?i)^\s*<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']`)

// isGB tells whether a declared charset is one GB18030 decodes (GB18030 is
// a superset of GBK, which is a superset of GB2312).
func isGB(charset string) bool {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "gb2312", "gbk", "gb18030", "x-gbk", "cp936", "windows-936", "euc-cn":
		return true
	}
	return false
}

// toUTF8 turns a MANSCDP body into UTF-8: GB2312/GBK/GB18030 when it says
// so, and also when it claims UTF-8 (or nothing) but is not valid UTF-8,
// which devices do.
func toUTF8(body []byte) ([]byte, error) {
	declared := ""
	if m := encodingDecl.FindSubmatch(body); m != nil {
		declared = string(m[1])
	}
	if !isGB(declared) && utf8.Valid(body) {
		return body, nil
	}
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(body)
	if err != nil {
		return nil, fmt.Errorf("body is neither UTF-8 nor GB18030: %w", err)
	}
	return out, nil
}

// decodeMANSCDP reads a MANSCDP body liberally: any GB charset or UTF-8,
// HTML-ish entities and unclosed tags tolerated.
func decodeMANSCDP(body []byte) (*mansMessage, error) {
	if len(body) > maxBody {
		return nil, fmt.Errorf("MANSCDP body of %d bytes is too large", len(body))
	}
	u, err := toUTF8(body)
	if err != nil {
		return nil, err
	}
	dec := xml.NewDecoder(bytes.NewReader(u))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	// The bytes are UTF-8 by now whatever the declaration says.
	dec.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	var m mansMessage
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("MANSCDP: %w", err)
	}
	m.CmdType = strings.TrimSpace(m.CmdType)
	m.SN = strings.TrimSpace(m.SN)
	m.DeviceID = strings.TrimSpace(m.DeviceID)
	return &m, nil
}

// atoi reads a count, 0 when absent or garbled.
func atoi(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// queryBody is a MANSCDP Query (GB/T 28181-2016 §A.2.4) for cmdType.
// Everything in it is ASCII, so it is valid GB2312 as declared.
func queryBody(cmdType string, sn uint32, deviceID string) []byte {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n<Query>\r\n<CmdType>")
	b.WriteString(cmdType)
	b.WriteString("</CmdType>\r\n<SN>")
	b.WriteString(strconv.FormatUint(uint64(sn), 10))
	b.WriteString("</SN>\r\n<DeviceID>")
	xml.EscapeText(&b, []byte(deviceID))
	b.WriteString("</DeviceID>\r\n</Query>\r\n")
	return []byte(b.String())
}
