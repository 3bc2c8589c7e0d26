package manscdp

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

func gb(t testing.TB, s string) []byte {
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const catalogXML = `<?xml version="1.0" encoding="GB2312"?>
<Response>
<CmdType>Catalog</CmdType>
<SN>17</SN>
<DeviceID>34020000001320000001</DeviceID>
<SumNum>2</SumNum>
<DeviceList Num="2">
<Item><DeviceID>34020000001310000001</DeviceID><Name>无人机通道1</Name><Status>ON</Status></Item>
<Item><DeviceID> 34020000001310000002 </DeviceID><Name>云台相机</Name></Item>
</DeviceList>
</Response>`

func TestDecodeCharsets(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"gb2312 declared", gb(t, catalogXML)},
		{"gbk declared", gb(t, strings.Replace(catalogXML, "GB2312", "GBK", 1))},
		{"gb18030 declared", gb(t, strings.Replace(catalogXML, "GB2312", "GB18030", 1))},
		{"utf-8 claimed, gbk bytes", gb(t, strings.Replace(catalogXML, "GB2312", "UTF-8", 1))},
		{"utf-8 for real", []byte(strings.Replace(catalogXML, "GB2312", "UTF-8", 1))},
		{"no declaration", []byte(catalogXML[strings.Index(catalogXML, "<Response>"):])},
	} {
		m, err := Decode(tc.body)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !m.Is("response", "CATALOG") || m.SN != "17" || Atoi(m.SumNum) != 2 || len(m.Items()) != 2 ||
			m.Items()[0].Name != "无人机通道1" || m.Items()[1].Name != "云台相机" || m.Items()[1].DeviceID != "34020000001310000002" {
			t.Fatalf("%s: %+v", tc.name, m)
		}
	}
}

func TestDecodeLenient(t *testing.T) {
	for _, body := range []string{
		`<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>x</DeviceID><Status>OK</Status></Notify>`,
		`<?xml version="1.0"?>` + "\r\n" + `<Notify><CmdType> Keepalive </CmdType><SN>1</SN><DeviceID>x</DeviceID><Info>&nbsp;<br></Info></Notify>`,
	} {
		m, err := Decode([]byte(body))
		if err != nil || !m.Is("Notify", "Keepalive") || m.DeviceID != "x" {
			t.Fatalf("%q: %+v %v", body, m, err)
		}
	}
	for _, body := range []string{"", "not xml", "\xff\xfe\x00", strings.Repeat("x", MaxBody+1), "<A:0></A>"} {
		if _, err := Decode([]byte(body)); err == nil {
			t.Errorf("%.20q accepted", body)
		}
	}
	if Atoi("x") != 0 || Atoi("-3") != 0 || Atoi(" 5 ") != 5 {
		t.Fatal("Atoi")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	items := []Item{{DeviceID: "1", Name: "主码流"}, {DeviceID: "2", Name: "副码流"}, {DeviceID: "3", Name: "a<b&c"}}
	parts := CatalogResponses(5, "dev", items, 2)
	if len(parts) != 2 {
		t.Fatal(len(parts))
	}
	var got []Item
	for _, p := range parts {
		if !bytes.HasPrefix(p, []byte(`<?xml version="1.0" encoding="GB2312"?>`)) || bytes.Contains(p, []byte("主")) {
			t.Fatalf("not GB2312: %q", p)
		}
		m, err := Decode(p)
		if err != nil || !m.Is("Response", "Catalog") || m.SumNum != "2" && m.SumNum != "3" {
			t.Fatalf("%+v %v", m, err)
		}
		got = append(got, m.Items()...)
	}
	if len(got) != 3 || got[0].Name != "主码流" || got[2].Name != "a<b&c" {
		t.Fatalf("%+v", got)
	}
	if len(CatalogResponses(1, "dev", nil, 10)) != 1 {
		t.Fatal("empty catalog must be one part")
	}
	for _, b := range [][]byte{Keepalive(3, "dev"), Query("DeviceInfo", 4, "dev"), DeviceInfoResponse(6, "dev", "名字", "DJI", "M3E", "1.0", 2)} {
		m, err := Decode(b)
		if err != nil || m.DeviceID != "dev" || m.SN == "" {
			t.Fatalf("%q: %v", b, err)
		}
	}
	m, _ := Decode(DeviceInfoResponse(6, "dev", "名字", "DJI", "M3E", "1.0", 2))
	if m.DeviceName != "名字" || m.Channel != "2" || !m.Is("Response", "DeviceInfo") {
		t.Fatalf("%+v", m)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(catalogXML))
	f.Add(gb(f, catalogXML))
	f.Add(Keepalive(1, "34020000001320000001"))
	f.Add([]byte(`<Notify><CmdType>DataTransfer</CmdType><Data><![CDATA[{"x":1}]]></Data>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		if m.Root() == "" || len(m.Items()) > maxItems {
			t.Fatalf("%+v", m)
		}
		// What was read can be written back and read again.
		out, err := Encode(m)
		if err != nil {
			return // names that XML cannot carry
		}
		if _, err := Decode(out); err != nil {
			t.Fatalf("re-decode: %v\n%q", err, out)
		}
	})
}
