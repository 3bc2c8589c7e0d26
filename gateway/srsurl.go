package gateway

import (
	"errors"
	"net/url"
	"strings"
)

// SRSWHIPPath is the URL path of WHIP in SRS's form, POST
// /rtc/v1/whip/?app=A&stream=S, which publishes the stream path A/S.
//
// DJI Dock firmware 17.01.0506 refuses a WHIP url (url_type 4) whose path
// does not contain /rtc/v1/whip/ (ZLMediaKit#4743): DJI's own demo server
// is SRS. The urls minted for url_type 4 therefore take this form, and
// POST /P/whip stays for everyone else.
const SRSWHIPPath = "/rtc/v1/whip/"

// SRSStreamPath turns SRS's app and stream query keys into a stream path:
// app "live" and stream "a" is "live/a"; a stream may have slashes of its
// own (a DJI video_id's "99-0-0/normal-0"). Other query keys (secret, eip,
// codec choices SRS takes) are left to the caller.
func SRSStreamPath(q url.Values) (string, error) {
	app, stream := strings.Trim(q.Get("app"), "/"), strings.Trim(q.Get("stream"), "/")
	if app == "" || stream == "" {
		return "", errors.New("the query must name app and stream (?app=A&stream=S publishes A/S)")
	}
	p := app + "/" + stream
	if err := ValidPath(p); err != nil {
		return "", err
	}
	return p, nil
}

// SRSWHIPURL is the WHIP URL in SRS's form for stream path p on base
// ("http://host:8080"), with extra query keys (secret) after app and
// stream: the first segment of p is the app, the rest the stream. A path
// of one segment has no such form (false); DJI paths (SN/camera/video)
// always have more.
func SRSWHIPURL(base, p string, extra url.Values) (string, bool) {
	app, stream, ok := strings.Cut(p, "/")
	if !ok {
		return "", false
	}
	// app and stream first, in this order, as SRS and DJI's demo write them.
	q := "app=" + url.QueryEscape(app) + "&stream=" + url.QueryEscape(stream)
	if len(extra) > 0 {
		q += "&" + extra.Encode()
	}
	return strings.TrimSuffix(base, "/") + SRSWHIPPath + "?" + q, true
}
