package cascade

import (
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

func TestParseRequest(t *testing.T) {
	gbBody, _ := simplifiedchinese.GBK.NewEncoder().String(`<?xml version="1.0" encoding="GB2312"?><Query><CmdType>MobilePosition</CmdType><SN> 17 </SN><DeviceID>x</DeviceID><Interval>5</Interval></Query>`)
	for _, tc := range []struct {
		name, body string
		ok         bool
		charset    string
	}{
		{"gb2312", gbBody, true, charsetGB2312},
		{"utf-8 declared", `<?xml version="1.0" encoding="UTF-8"?><Query><CmdType>Catalog</CmdType><SN>1</SN></Query>`, true, charsetUTF8},
		{"gb18030 declared", `<?xml version="1.0" encoding="gb18030"?><Query><CmdType>Catalog</CmdType><SN>1</SN></Query>`, true, charsetGB18030},
		{"no declaration", `<Control><CmdType>DeviceControl</CmdType><SN>2</SN><PTZCmd>A50F0101400000F6</PTZCmd></Control>`, true, charsetGB2312},
		{"unclosed empty", `<Query><CmdType>Catalog</CmdType><SN>3</SN><DeviceID/></Query>`, true, charsetGB2312},
		{"no CmdType", `<Query><SN>1</SN></Query>`, false, ""},
		{"bad SN", `<Query><CmdType>Catalog</CmdType><SN>-1</SN></Query>`, false, ""},
		{"not xml", `hello`, false, ""},
		{"empty", ``, false, ""},
		{"huge", "<Query>" + strings.Repeat("x", 300<<10), false, ""},
	} {
		r, err := parseRequest([]byte(tc.body))
		if (err == nil) != tc.ok {
			t.Fatalf("%s: err %v", tc.name, err)
		}
		if err == nil && r.Charset != tc.charset {
			t.Fatalf("%s: charset %s", tc.name, r.Charset)
		}
	}
	r, _ := parseRequest([]byte(gbBody))
	if r.SN != "17" || r.Interval != "5" || r.XMLName.Local != "Query" {
		t.Fatalf("%+v", r)
	}
	r, _ = parseRequest([]byte(`<Control><CmdType>DeviceControl</CmdType><SN>2</SN><PTZCmd>A5</PTZCmd></Control>`))
	if !r.has("ptzcmd") || r.has("TeleBoot") {
		t.Fatal("has")
	}
}

func TestEncodeMessage(t *testing.T) {
	m := &message{XMLName: root("Response"), CmdType: "Catalog", SN: "1", DeviceID: lowerID, SumNum: "1",
		DeviceList: &deviceList{Num: 1, Items: []item{{DeviceID: "1", Name: "机场 <a&b> 😀"}}}}
	gb := encodeMessage(m, charsetGB2312)
	u, err := simplifiedchinese.GBK.NewDecoder().Bytes(gb)
	if err != nil || !strings.Contains(string(u), "<Name>机场 &lt;a&amp;b&gt; ?</Name>") || !strings.HasPrefix(string(u), `<?xml version="1.0" encoding="GB2312"?>`) {
		t.Fatalf("GB2312: %s (%v)", u, err)
	}
	if b := encodeMessage(m, charsetUTF8); !strings.Contains(string(b), "机场") || !strings.Contains(string(b), "😀") {
		t.Fatalf("UTF-8: %s", b)
	}
	g18, _ := simplifiedchinese.GB18030.NewDecoder().Bytes(encodeMessage(m, charsetGB18030))
	if !strings.Contains(string(g18), "😀") {
		t.Fatalf("GB18030 keeps what GB2312 cannot: %s", g18)
	}
	bodies := catalogBodies("Response", "5", lowerID, make([]item, 5), 2, charsetUTF8)
	if len(bodies) != 3 || !strings.Contains(string(bodies[2]), `<SumNum>5</SumNum><DeviceList Num="1">`) {
		t.Fatalf("split %q", bodies)
	}
	if b := catalogBodies("Response", "5", lowerID, nil, 2, charsetUTF8); len(b) != 1 || !strings.Contains(string(b[0]), "<SumNum>0</SumNum>") || strings.Contains(string(b[0]), "DeviceList") {
		t.Fatalf("empty %q", b)
	}
}
