package logscan

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	var s Secrets
	s.Add(t, "s3cr3t-push", "pa ss/word")
	if n := s.AddFromURL(t, "rtmp://u:rtmp-pass@host:1935/live/a?secret=from-url&app=x&jwt=eyJhb.c.d"); n != 3 {
		t.Fatalf("found %d secrets in the URL, want 3", n)
	}
	basic := base64.StdEncoding.EncodeToString([]byte("admin:s3cr3t-push"))
	for _, tc := range []struct {
		text string
		want int
	}{
		{`time=... level=INFO msg="publisher started" path=live/a`, 0},
		{`level=INFO msg="x" url=rtmp://h/live/a?secret=s3cr3t-push`, 1},
		{`query=secret%3Ds3cr3t-push`, 1},
		{`password=pa+ss%2Fword`, 1},
		{`path=pa%20ss%2Fword`, 1},
		{`{"user":"u","password":"rtmp-pass"}`, 1},
		{`authorization="Basic ` + basic + `"`, 1},
		{"first line\nsecond has from-url\nthird has eyJhb.c.d", 2},
		{`secret=REDACTED`, 0},
	} {
		leaks := s.Find("log", tc.text)
		if len(leaks) != tc.want {
			t.Errorf("%q: %d leaks %v, want %d", tc.text, len(leaks), leaks, tc.want)
		}
		for _, l := range leaks {
			if strings.Contains(l.String(), "s3cr3t-push") || strings.Contains(l.String(), "from-url") {
				t.Errorf("the leak report repeats the secret: %s", l)
			}
		}
	}
}

func TestShortSecretRefused(t *testing.T) {
	ft := &fakeT{TB: t}
	var s Secrets
	func() {
		defer func() { recover() }()
		s.Add(ft, "abc")
	}()
	if !ft.failed {
		t.Fatal("a 3-byte secret was accepted for scanning")
	}
}

// fakeT records Fatalf instead of ending the test.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}

func TestFindCredentialValues(t *testing.T) {
	for _, tc := range []struct {
		line string
		want int
	}{
		{`msg="publisher started" url=rtmp://h/live/a?secret=abc123`, 1},
		{`url=rtmp://h/live/a?REDACTED`, 0},
		{`url="http://h/rtc/v1/whip/?app=a&stream=b&secret=s3"`, 1},
		{`password=*** user=x`, 0},
		{`password="" token=`, 0},
		{`userName=skyrelay-ab&password=pw123&port=8554`, 1},
		{`agentPassword=xyz&channel=1`, 1},
		{`tokens=5 passes=3`, 0},
		{`send ?jwt=<token>`, 0},
	} {
		if got := FindCredentialValues("log", tc.line); len(got) != tc.want {
			t.Errorf("%q: %v, want %d", tc.line, got, tc.want)
		}
	}
}
